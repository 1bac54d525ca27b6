"""Video restoration: frames in, frames out, with faces tracked, steadied and restored in cross-frame batches.

:class:`VideoRestorer` is the streaming core. Each pushed frame is tracked at once (detector every k frames,
optical flow in between, One-Euro smoothed landmarks); frames then wait in a short window (``fade + 1`` frames
of look-ahead, so a track that is about to end can fade out and a new one is confirmed or dropped before its
first frame leaves, plus one model batch) and leave it in order: each face's region of the frame is steadied
over time (:mod:`gpen_hf.video.temporal`), its crop cut from it with the smoothed alignment, the faces of the
whole group restored in one ``GPENPipeline.restore_faces`` call, and pasted back by the photo pipeline's own
paste-back (``GPENPipeline.paste_masks`` / ``face_fidelity`` / ``paste_back``: face-region mask, band-split
blend, colour match, ``alpha="auto"`` and the identity guard), with each face's fidelity measured every few
frames, smoothed along its track and faded in/out where a track starts or ends. Memory is bounded by the window,
never the length of the video. :func:`restore_video` wraps it for files (PyAV decode/encode, audio copied,
timestamps kept).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gpen_hf.faces.align import shift_affine
from gpen_hf.faces.blend import match_colour
from gpen_hf.faces.mask import crop_mask
from gpen_hf.fidelity import FaceFidelity
from gpen_hf.pipeline import DEFAULT_MEMORY_BUDGET_MB, GPENPipeline, check_paste_options
from gpen_hf.video.io import (
    DEFAULT_CRF,
    VideoError,
    VideoReader,
    VideoWriter,
    frame_intervals,
    is_variable_rate,
)
from gpen_hf.video.temporal import FidelitySmoother, TemporalBlender
from gpen_hf.video.tracking import TENTATIVE_MISSES, FaceTrack, FaceTracker

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    index: int
    rgb: np.ndarray
    tag: Any
    faces: list[tuple[int, np.ndarray, np.ndarray | None]]  # (track id, smoothed landmarks, motion)


class VideoRestorer:
    """Streaming face restoration of a sequence of RGB frames (see module docstring).

    Args:
        pipe: the ``GPENPipeline`` whose detector, aligner, model and paste-back are used.
        rate: frames per second (sets the landmark and fidelity filters' time scale and the drop-out bridge).
        alpha: fidelity blend per face, as in ``GPENPipeline``: ``"auto"`` (default) from each face's measured
            degradation, smoothed along its track, or a number for all faces (1 = restored face only).
        mask / colour_match / identity_guard: the photo pipeline's paste-back options (``GPENPipeline``).
        batch_size: frames per group; their faces go to the model together (``batch_size`` faces per call).
        detect_every: run the detector every k frames, track by optical flow in between.
        fade: frames over which a face that appears or disappears mid-video is blended in or out.
        input_strength / output_strength: the temporal blends of :class:`TemporalBlender` (0, 0 = off).
        smooth: One-Euro smoothing of the landmarks and of each face's fidelity (False: per frame as measured).
        measure_every: measure each face's fidelity (its degradation estimate and the identity guard, a quarter
            of the time per face) on every k-th frame of its track and reuse it in between, where the smoothing
            would keep it nearly constant anyway (1 = every frame).
        max_faces: restore at most this many faces per frame (the largest ones).
        autocast_dtype / memory_budget_mb: as in ``GPENPipeline.restore_faces``.
    """

    def __init__(self, pipe: GPENPipeline, rate: float = 25.0, *, alpha: float | str = "auto", mask: str = "face",
                 colour_match: bool = True, identity_guard: bool = True, batch_size: int = 8,
                 detect_every: int = 5, fade: int = 6, input_strength: float = 0.85, output_strength: float = 0.7,
                 smooth: bool = True, measure_every: int = 4, max_faces: int | None = None,
                 autocast_dtype: str | torch.dtype | None = None,
                 memory_budget_mb: float | None = DEFAULT_MEMORY_BUDGET_MB) -> None:
        check_paste_options(alpha, mask, pipe.parsing_model)
        if batch_size < 1 or fade < 0 or measure_every < 1:
            raise ValueError(f"batch_size and measure_every must be >= 1 and fade >= 0, got {batch_size}, "
                             f"{measure_every} and {fade}")
        self.pipe, self.alpha, self.batch_size, self.fade = pipe, alpha, batch_size, fade
        self.mask, self.colour_match, self.identity_guard = mask, colour_match, identity_guard
        self.max_faces, self.autocast_dtype, self.memory_budget_mb = max_faces, autocast_dtype, memory_budget_mb
        self.tracker = FaceTracker(rate, detect_every, **({} if smooth else {"min_cutoff": 1e6, "beta": 0.0}))
        self.blender = TemporalBlender(pipe.resolution, input_strength, output_strength)
        self.fidelity = FidelitySmoother(rate) if smooth else None
        self.measure_every = measure_every
        self._measured: dict[int, tuple[int, FaceFidelity]] = {}  # track id -> (frame index, fidelity)
        self.window = max(fade, TENTATIVE_MISSES) + 1 + batch_size
        self._pending: deque[_Pending] = deque()
        self._tracks: dict[int, FaceTrack] = {}
        self.frames_in = self.frames_out = self.faces_restored = 0
        self.frames_with_faces = 0
        self._restored_tracks: set[int] = set()

    @property
    def num_tracks(self) -> int:
        """How many face tracks were restored (false detections never confirmed are not counted)."""
        return len(self._restored_tracks)

    def push(self, rgb: np.ndarray, tag: Any = None) -> list[tuple[np.ndarray, Any]]:
        """Add the next frame (H×W×3 uint8 RGB); returns the frames (with their tags) that are done."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"frames must be H×W×3 uint8 RGB, got {rgb.dtype} {rgb.shape}")
        t = self.frames_in
        dets = None
        if self.tracker.wants_detection(t):
            dets = self.pipe.detector.detect(rgb)
            if self.max_faces is not None and len(dets) > self.max_faces:
                dets = dets.select(np.argsort(-dets.inter_ocular(), kind="stable")[:self.max_faces])
        alive = self.tracker.update(rgb, dets)
        for track in alive:
            self._tracks[track.id] = track
        faces = [(tr.id, tr.landmarks[t].copy(), tr.motion.get(t)) for tr in alive]
        self._pending.append(_Pending(t, rgb, tag, faces))
        self.frames_in += 1
        self.tracker.forget_before(t)
        done = []
        while len(self._pending) >= self.window:
            done.extend(self._process(self.batch_size))
        return done

    def flush(self) -> list[tuple[np.ndarray, Any]]:
        """The input is over: finish every waiting frame."""
        self.tracker.close()
        done = []
        while self._pending:
            done.extend(self._process(self.batch_size))
        return done

    def __call__(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Restore a stream of frames lazily (a generator: frames come out ``window`` frames behind)."""
        for rgb in frames:
            for out, _ in self.push(rgb):
                yield out
        for out, _ in self.flush():
            yield out

    def _presence(self, track_id: int, t: int) -> float:
        """Fade-in from a track's first frame (unless it starts the video), fade-out before its last."""
        track = self._tracks[track_id]
        weight = 1.0
        if self.fade and track.start > 0:
            weight = min(weight, (t - track.start + 1) / (self.fade + 1))
        if self.fade and track.end is not None:
            weight = min(weight, (track.end - t + 1) / (self.fade + 1))
        return float(np.clip(weight, 0.0, 1.0))

    def _process(self, count: int) -> list[tuple[np.ndarray, Any]]:
        group = [self._pending.popleft() for _ in range(min(count, len(self._pending)))]
        aligner = self.pipe.aligner
        jobs = []  # (frame position in group, track id, landmarks, matrix, steadied region)
        crops = []
        for k, item in enumerate(group):
            canvas = item.rgb.copy()
            for track_id, landmarks, motion in item.faces:
                if self._tracks[track_id].dropped:
                    continue  # a false detection, left alone
                matrix = aligner.estimate(landmarks)
                region = self.blender.steady_region(track_id, item.rgb, matrix, motion, landmarks)
                x0, y0, x1, y1 = region.box
                canvas[y0:y1, x0:x1] = region.pixels
                crops.append(aligner.warp(canvas, landmarks)[0])
                jobs.append((k, track_id, landmarks, matrix, region))
                self._restored_tracks.add(track_id)
        restored = (self.pipe.restore_faces(crops, self.batch_size, self.autocast_dtype, self.memory_budget_mb)
                    if crops else [])
        masks = self.pipe.paste_masks(crops, self.mask)
        per_frame: list[list[tuple]] = [[] for _ in group]
        for (k, track_id, landmarks, matrix, region), crop, face, mask in zip(jobs, crops, restored, masks):
            face = self.blender.steady_output(track_id, face, region.blend)
            if self.mask == "parsing":  # per-face masks: steadied like the faces (the fixed ones are steady)
                mask = self.blender.steady_mask(track_id, mask, region.blend)
            if self.colour_match:
                face = match_colour(face, crop, mask)
            fidelity = self._face_fidelity(track_id, group[k], face, crop, landmarks)
            if self.fidelity is not None:
                fidelity = self.fidelity(track_id, fidelity)
            presence = self._presence(track_id, group[k].index)
            fidelity = replace(fidelity, alpha=fidelity.alpha * presence)
            per_frame[k].append((face, crop, matrix, mask, fidelity, region, presence))
        out = []
        for item, faces in zip(group, per_frame):
            frame = item.rgb
            if faces:
                restored_faces, face_crops, matrices, face_masks, fidelities, *_ = map(list, zip(*faces))
                frame = self.pipe.paste_back(self._steadied_photo(item.rgb, faces), restored_faces, face_crops,
                                             matrices, face_masks, fidelities)
            self.faces_restored += len(faces)
            self.frames_with_faces += bool(faces)
            out.append((frame, item.tag))
        self.frames_out += len(group)
        oldest = self._pending[0].index if self._pending else self.frames_in
        for track_id in [i for i, tr in self._tracks.items() if tr.end is not None and tr.end < oldest]:
            del self._tracks[track_id]
            self.blender.forget(track_id)
            self._measured.pop(track_id, None)
            if self.fidelity is not None:
                self.fidelity.forget(track_id)
        return out

    def _face_fidelity(self, track_id: int, item: _Pending, face: np.ndarray, crop: np.ndarray,
                       landmarks: np.ndarray) -> FaceFidelity:
        """The face's fidelity as measured on its track's latest measured frame, re-measured every
        ``measure_every`` frames."""
        last = self._measured.get(track_id)
        if last is not None and item.index - last[0] < self.measure_every:
            return last[1]
        fidelity = self.pipe.face_fidelity(face, crop, item.rgb, landmarks, self.alpha, self.identity_guard)
        self._measured[track_id] = (item.index, fidelity)
        return fidelity

    def _steadied_photo(self, rgb: np.ndarray, faces: list[tuple]) -> np.ndarray:
        """The frame the paste-back blends into: each face's steadied region brought in under the square crop
        mask (the crop minus a feathered margin: the face and what moves with it, hair and ears), faded in
        and out with its track. Whatever ``alpha`` keeps of the input face is then the steadied input, so a
        face left almost as it came (``alpha="auto"`` on a clean face) does not flicker with the frame's
        noise either; everything outside the crops stays the frame as it came, and where the background does
        not move with the face, the blender's change weight keeps it as it came too (``input_strength`` 0:
        no steadying at all)."""
        photo = rgb
        steady_mask = crop_mask("square", self.pipe.resolution)
        for _, _, matrix, _, _, region, presence in faces:
            if presence <= 0 or region.blend is None or self.blender.input_strength <= 0:
                continue
            x0, y0, x1, y1 = region.box
            weight = self.pipe.aligner.inverse_warp(steady_mask, shift_affine(matrix, x0, y0),
                                                    (x1 - x0, y1 - y0), cubic=False)[:, :, None]
            photo = photo.copy() if photo is rgb else photo
            before = photo[y0:y1, x0:x1].astype(np.float32)
            mixed = before + presence * weight * (region.pixels.astype(np.float32) - before)
            photo[y0:y1, x0:x1] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        return photo


@dataclass
class VideoResult:
    """What :func:`restore_video` did: counts, whether the whole input was read, and a one-line summary."""

    input: str
    output: str
    frames: int
    frames_with_faces: int
    faces: int
    tracks: int
    seconds: float
    complete: bool = True
    copied: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def message(self) -> str:
        head = (f"{self.input}: {self.frames} frames, {self.tracks} face track(s) in {self.frames_with_faces} "
                f"frames, {self.seconds:.1f} s ({self.fps:.2f} frames/s) -> {self.output}")
        return "; ".join([head, *self.notes])


def restore_video(pipe: GPENPipeline, source: str | Path, output: str | Path, *, progress: bool = True,
                  crf: int = DEFAULT_CRF, pix_fmt: str = "yuv420p", **kwargs: Any) -> VideoResult:
    """Restore the faces of the video file ``source`` into ``output`` (keyword arguments: :class:`VideoRestorer`;
    ``crf`` and ``pix_fmt``: the encoder's, see :class:`~gpen_hf.video.io.VideoWriter`).

    Frame count, timestamps (so frame rate, variable or not), size and the audio track are kept. A video
    without faces is copied through unchanged. If decoding breaks mid-way the frames before the break are
    written, the output is finished (playable) and ``complete`` is False with a note naming the frame.
    Raises :class:`VideoError` when the input cannot be opened at all.
    """
    from tqdm import tqdm

    start = time.perf_counter()
    source, output = Path(source), Path(output)
    if source.resolve() == output.resolve():
        raise VideoError(f"{output}: the output would overwrite the input; choose another path")
    with contextlib.closing(VideoReader(source)) as reader:
        info = reader.info
        restorer = VideoRestorer(pipe, float(info.fps), **kwargs)
        pts: list[int | None] = []
        expected = reader.expected_frames()
        bar = tqdm(total=expected or None, desc=source.name, unit="frame", disable=not progress, leave=False)
        writer = VideoWriter(output, info, reader.audio, crf=crf, pix_fmt=pix_fmt)
        try:
            for frame in reader.frames(writer.write_audio):
                pts.append(frame.pts)
                for rgb, tag in restorer.push(frame.rgb, frame.pts):
                    writer.write(rgb, tag)
                    bar.update()
            for rgb, tag in restorer.flush():
                writer.write(rgb, tag)
                bar.update()
        finally:
            writer.close()
            bar.close()
        error = reader.error
    result = VideoResult(str(source), str(output), writer.written, restorer.frames_with_faces,
                         restorer.faces_restored, restorer.num_tracks, time.perf_counter() - start)
    if writer.written == 0:
        output.unlink(missing_ok=True)
        raise VideoError(f"{source}: no frame could be decoded ({error or 'the video stream is empty'})")
    if error is not None or (expected and writer.written < expected - 1):
        result.complete = False
        why = error or f"the stream ended after frame {writer.written - 1} of the {expected} it announces"
        result.notes.append(f"INCOMPLETE: {why}; the output holds the first {writer.written} frames and is "
                            "playable")
    if restorer.faces_restored == 0:
        if result.complete and source.suffix.lower() == output.suffix.lower():
            shutil.copyfile(source, output)
            result.copied = True
            result.notes.append("no face found: the input was copied unchanged")
        else:
            result.notes.append("no face found: the frames were passed through unchanged (re-encoded)")
    if is_variable_rate(pts, info.time_base):
        gaps = frame_intervals(pts, info.time_base) * 1000
        result.notes.append(f"variable frame rate (frame intervals {gaps.min():.0f}-{gaps.max():.0f} ms): every "
                            "frame keeps its timestamp")
    return result
