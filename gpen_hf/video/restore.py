"""Video restoration: frames in, frames out, with faces tracked, steadied and restored in cross-frame batches.

:class:`VideoRestorer` is the streaming core. Each pushed frame is tracked at once (detector every k frames,
optical flow in between, One-Euro smoothed landmarks); frames then wait in a short window (``fade + 1`` frames
of look-ahead, so a track that is about to end can fade out, plus one model batch) and leave it in order: their
faces are cropped with the smoothed alignment, steadied over time (:mod:`gpen_hf.video.temporal`), restored
together in one ``GPENPipeline.restore_faces`` call for the whole group of frames, faded in/out, and pasted
back with the pipeline's paste-back. Memory is bounded by the window, never the length of the video.
:func:`restore_video` wraps it for files (PyAV decode/encode, audio copied, timestamps kept).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gpen_hf.faces.paste import paste_faces
from gpen_hf.pipeline import DEFAULT_MEMORY_BUDGET_MB, GPENPipeline
from gpen_hf.video.io import VideoError, VideoReader, VideoWriter, frame_intervals, is_variable_rate
from gpen_hf.video.temporal import TemporalBlender
from gpen_hf.video.tracking import FaceTrack, FaceTracker

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
        rate: frames per second (sets the landmark filter's time scale and the default drop-out bridge).
        alpha: fidelity blend, as in ``GPENPipeline`` (1 = restored face only).
        batch_size: frames per group; their faces go to the model together (``batch_size`` faces per call).
        detect_every: run the detector every k frames, track by optical flow in between.
        fade: frames over which a face that appears or disappears mid-video is blended in or out.
        input_strength / output_strength: the temporal blends of :class:`TemporalBlender` (0, 0 = off).
        smooth: One-Euro smoothing of the landmarks (False: the raw detections/flow).
        max_faces: restore at most this many faces per frame (the largest ones).
        autocast_dtype / memory_budget_mb: as in ``GPENPipeline.restore_faces``.
    """

    def __init__(self, pipe: GPENPipeline, rate: float = 25.0, *, alpha: float = 1.0, batch_size: int = 8,
                 detect_every: int = 5, fade: int = 6, input_strength: float = 0.85, output_strength: float = 0.7,
                 smooth: bool = True, max_faces: int | None = None,
                 autocast_dtype: str | torch.dtype | None = None,
                 memory_budget_mb: float | None = DEFAULT_MEMORY_BUDGET_MB) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if batch_size < 1 or fade < 0:
            raise ValueError(f"batch_size must be >= 1 and fade >= 0, got {batch_size} and {fade}")
        self.pipe, self.alpha, self.batch_size, self.fade = pipe, alpha, batch_size, fade
        self.max_faces, self.autocast_dtype, self.memory_budget_mb = max_faces, autocast_dtype, memory_budget_mb
        self.tracker = FaceTracker(rate, detect_every, **({} if smooth else {"min_cutoff": 1e6, "beta": 0.0}))
        self.blender = TemporalBlender(input_strength, output_strength)
        self.window = fade + 1 + batch_size
        self._pending: deque[_Pending] = deque()
        self._tracks: dict[int, FaceTrack] = {}
        self.frames_in = self.frames_out = self.faces_restored = 0
        self.frames_with_faces = 0

    @property
    def num_tracks(self) -> int:
        return self.tracker._next_id

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

    def _weight(self, track_id: int, t: int) -> float:
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
        jobs = []  # (frame position in group, track id, raw crop, matrix, blend)
        steady = []
        for k, item in enumerate(group):
            for track_id, landmarks, motion in item.faces:
                crop, matrix = aligner.warp(item.rgb, landmarks)
                steadied, blend = self.blender.steady_input(track_id, crop, matrix, motion, landmarks)
                jobs.append((k, track_id, crop, matrix, blend))
                steady.append(steadied)
        restored = (self.pipe.restore_faces(steady, self.batch_size, self.autocast_dtype, self.memory_budget_mb)
                    if steady else [])
        per_frame: list[tuple[list[np.ndarray], list[np.ndarray]]] = [([], []) for _ in group]
        for (k, track_id, crop, matrix, blend), face in zip(jobs, restored):
            face = self.blender.steady_output(track_id, face, blend).astype(np.float32)
            weight = self.alpha * self._weight(track_id, group[k].index)
            if weight < 1.0:
                face = weight * face + (1.0 - weight) * crop
            per_frame[k][0].append(np.clip(np.rint(face), 0, 255).astype(np.uint8))
            per_frame[k][1].append(matrix)
        out = []
        for item, (faces, matrices) in zip(group, per_frame):
            frame = paste_faces(item.rgb, faces, matrices, aligner) if faces else item.rgb
            self.faces_restored += len(faces)
            self.frames_with_faces += bool(faces)
            out.append((frame, item.tag))
        self.frames_out += len(group)
        oldest = self._pending[0].index if self._pending else self.frames_in
        for track_id in [i for i, tr in self._tracks.items() if tr.end is not None and tr.end < oldest]:
            del self._tracks[track_id]
            self.blender.forget(track_id)
        return out


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
                  **kwargs: Any) -> VideoResult:
    """Restore the faces of the video file ``source`` into ``output`` (keyword arguments: :class:`VideoRestorer`).

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
        writer = VideoWriter(output, info, reader.audio)
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
