"""Video restoration on clips made here from real photos: timing/audio kept, tracking, steadiness, bad input."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from gpen_hf.faces.mask import crop_mask
from gpen_hf.pipeline import GPENPipeline
from gpen_hf.video.io import VideoError, VideoReader, VideoWriter
from gpen_hf.video.restore import VideoRestorer, restore_video
from gpen_hf.video.synthetic import face_mask, pan_zoom_transforms, render_clip, warping_error, write_clip
from gpen_hf.video.tracking import FaceTracker, OneEuroFilter

PHOTO = Path(__file__).parent / "fixtures" / "photos" / "faceapi__sample6_one_face.jpg"
SIZE = (160, 120)


def photo() -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(PHOTO))[:, :, ::-1])


@pytest.fixture(scope="module")
def clip() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A slow pan and zoom over a real photo, fresh noise and JPEG per frame: frames and true motion."""
    image = photo()
    transforms = pan_zoom_transforms(16, SIZE, (image.shape[1], image.shape[0]))
    return render_clip(image, transforms, SIZE), transforms


@pytest.fixture(scope="module")
def clip_file(clip, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    write_clip(path, clip[0], fps=25, tone_hz=440.0)
    return path


@pytest.fixture(scope="module")
def pipe() -> GPENPipeline:
    from gpen_hf.models.gpen import GPENModel

    torch.manual_seed(0)
    model = GPENModel(resolution=32, style_dim=64, n_mlp=2, channel_multiplier=1, narrow=0.125)
    return GPENPipeline(model)


def decode(path: Path) -> tuple[list[np.ndarray], list[int], VideoReader]:
    reader = VideoReader(path)
    frames = list(reader.frames())
    reader.close()
    return [f.rgb for f in frames], [f.pts for f in frames], reader


def audio_samples(path: Path) -> tuple[str, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return stream.codec_context.name, stream.sample_rate, sum(f.samples for f in container.decode(stream))


def test_restore_video_keeps_frames_rate_size_and_audio(pipe, clip_file, tmp_path) -> None:
    out = tmp_path / "out.mp4"
    result = restore_video(pipe, clip_file, out, progress=False, batch_size=4, alpha=1.0,
                           identity_guard=False)
    frames, pts, reader = decode(out)
    src_frames, src_pts, src = decode(clip_file)
    assert result.complete and result.frames == len(frames) == len(src_frames) == 16
    assert frames[0].shape == (SIZE[1], SIZE[0], 3) and reader.info.fps == src.info.fps == 25
    seconds = lambda p, r: [round(v * float(r.info.time_base), 4) for v in p]
    assert seconds(pts, reader) == seconds(src_pts, src)
    assert audio_samples(out) == audio_samples(clip_file)
    assert result.tracks == 1 and result.frames_with_faces == 16
    diff = np.abs(np.stack(frames).astype(np.float32) - np.stack(src_frames)).mean(axis=(0, 3))
    assert diff[50:80, 60:100].mean() > 10  # the (random-weight) model really replaced the face


def test_odd_size_and_other_containers_keep_the_size(pipe, clip, tmp_path) -> None:
    odd = [f[:119, :159] for f in clip[0][:6]]
    write_clip(tmp_path / "odd.mp4", odd, tone_hz=None)
    restore_video(pipe, tmp_path / "odd.mp4", tmp_path / "odd.mkv", progress=False)
    frames, _, _ = decode(tmp_path / "odd.mkv")
    assert len(frames) == 6 and frames[0].shape == (119, 159, 3)


def test_streaming_api_holds_only_a_window(pipe, clip) -> None:
    consumed = []

    def source():
        for i, frame in enumerate(clip[0]):
            consumed.append(i)
            yield frame

    outputs = pipe.restore_frames(source(), rate=25, batch_size=2, fade=2)
    first = next(outputs)
    assert first.shape == clip[0][0].shape and len(consumed) <= 2 + 1 + 2
    assert 1 + sum(1 for _ in outputs) == len(clip[0])


def test_one_euro_filter_steadies_still_points_and_follows_motion() -> None:
    rng = np.random.default_rng(0)
    still = OneEuroFilter(25, min_cutoff=0.3, beta=0.7)
    noisy = 100 + rng.normal(0, 1.0, 100)
    smoothed = np.array([still(np.array([v]), unit=30.0)[0] for v in noisy])
    assert smoothed[20:].std() < 0.4 * noisy[20:].std()
    moving = OneEuroFilter(25, min_cutoff=0.3, beta=0.7)
    ramp = np.arange(100) * 3.0  # 3 px per frame, a tenth of a 30-px eye distance
    followed = np.array([moving(np.array([v]), unit=30.0)[0] for v in ramp])
    ema = np.zeros(100)  # a fixed low-pass with the still cut-off, for comparison
    alpha = 1 / (1 + 25 / (2 * np.pi * 0.3))
    for i in range(1, 100):
        ema[i] = ema[i - 1] + alpha * (ramp[i] - ema[i - 1])
    assert abs(ramp[-1] - followed[-1]) < 0.25 * abs(ramp[-1] - ema[-1])


def test_tracker_keeps_one_identity_and_bridges_dropouts(pipe, clip) -> None:
    tracker = FaceTracker(25, detect_every=3)
    detections = []
    for t, frame in enumerate(clip[0]):
        dets = pipe.detector.detect(frame) if tracker.wants_detection(t) else None
        if dets is not None and 5 <= t <= 9:
            dets = dets.select([])  # the detector misses the face for a while
        alive = tracker.update(frame, dets)
        assert [a.id for a in alive] == [0], f"frame {t}"
        detections.append(pipe.detector.detect(frame).landmarks[0])
    track = tracker.all_tracks()[0]
    error = np.abs(track.raw[15] - detections[15]).max()
    iod = np.linalg.norm(detections[15][1] - detections[15][0])
    assert error < 0.15 * iod


def test_temporal_blend_reduces_shimmer(pipe, clip) -> None:
    frames, transforms = clip
    landmarks = pipe.detector.detect(photo()).landmarks[0]
    masks = [face_mask(landmarks, m, SIZE) for m in transforms]
    forced = {"alpha": 1.0, "identity_guard": False}
    plain = list(pipe.restore_frames(frames, input_strength=0.0, output_strength=0.0, smooth=False,
                                     detect_every=1, **forced))
    steady = list(pipe.restore_frames(frames, **forced))
    assert warping_error(steady, transforms, masks) < 0.8 * warping_error(plain, transforms, masks)


def test_the_head_around_the_pasted_face_is_steadied_too(pipe, clip) -> None:
    """Hair and ears (inside the crop, outside the face paste mask) keep the input's pixels in a photo; in a
    video they are steadied with the face, so they flicker less than the input there."""
    frames, transforms = clip
    landmarks = pipe.detector.detect(photo()).landmarks[0]
    heads = [face_mask(landmarks, m, SIZE, scale=1.6) & ~face_mask(landmarks, m, SIZE, scale=1.0)
             for m in transforms]
    steady = list(pipe.restore_frames(frames, alpha=1.0, identity_guard=False))
    assert warping_error(steady, transforms, heads) < 0.8 * warping_error(frames, transforms, heads)


def test_faces_that_appear_mid_clip_fade_in(clip) -> None:
    class Constant(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros_like(x)

    grey_pipe = GPENPipeline(Constant(), resolution=32)
    frames = [np.full_like(clip[0][0], 90)] * 4 + clip[0][:10]
    restorer = VideoRestorer(grey_pipe, 25, fade=4, detect_every=1, input_strength=0, output_strength=0,
                             alpha=1.0, identity_guard=False, colour_match=False)
    out = list(restorer(frames))
    change = [float(np.abs(o.astype(np.float32) - f)[50:80, 60:100].mean()) for o, f in zip(out, frames)]
    assert change[:4] == [0.0] * 4
    assert change[4] < change[5] < change[6] < change[7] < change[8]
    assert change[8] == pytest.approx(change[10], rel=0.35)


def test_variable_frame_rate_keeps_timestamps(pipe, clip, tmp_path) -> None:
    pts = [0, 100, 200, 400, 500, 700, 800, 900]
    write_clip(tmp_path / "vfr.mp4", clip[0][:8], pts=pts)
    result = restore_video(pipe, tmp_path / "vfr.mp4", tmp_path / "out.mp4", progress=False)
    _, out_pts, reader = decode(tmp_path / "out.mp4")
    assert [round(p * float(reader.info.time_base), 3) for p in out_pts] == [p / 2500 for p in pts]
    assert "variable frame rate" in result.message


def test_bad_inputs_are_explained(pipe, clip_file, tmp_path) -> None:
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(VideoError, match="notes.mp4: not a video"):
        restore_video(pipe, tmp_path / "notes.mp4", tmp_path / "o.mp4")
    data = clip_file.read_bytes()
    (tmp_path / "codec.mp4").write_bytes(data.replace(b"avc1", b"zzz9"))
    with pytest.raises(VideoError, match="unknown video codec"):
        restore_video(pipe, tmp_path / "codec.mp4", tmp_path / "o.mp4")
    (tmp_path / "cut.mp4").write_bytes(data[:len(data) // 2])  # the index (moov) is at the end: gone
    with pytest.raises(VideoError, match="cut.mp4.*truncated"):
        restore_video(pipe, tmp_path / "cut.mp4", tmp_path / "o.mp4")
    with pytest.raises(VideoError, match="overwrite the input"):
        restore_video(pipe, clip_file, clip_file)
    with pytest.raises(VideoError, match="cannot write .gif"):
        restore_video(pipe, clip_file, tmp_path / "o.gif")


def test_stream_that_breaks_leaves_a_playable_partial_output(pipe, clip_file, tmp_path) -> None:
    reader = VideoReader(clip_file)
    writer = VideoWriter(tmp_path / "full.mkv", reader.info, reader.audio)
    for frame in reader.frames(writer.write_audio):
        writer.write(frame.rgb, frame.pts)
    writer.close()
    reader.close()
    data = (tmp_path / "full.mkv").read_bytes()
    (tmp_path / "broken.mkv").write_bytes(data[:int(len(data) * 0.55)])
    result = restore_video(pipe, tmp_path / "broken.mkv", tmp_path / "out.mkv", progress=False)
    frames, _, _ = decode(tmp_path / "out.mkv")
    assert not result.complete and 0 < len(frames) == result.frames < 16
    assert f"first {len(frames)} frames" in result.message and "INCOMPLETE" in result.message


def test_video_without_faces_is_copied_through(pipe, tmp_path) -> None:
    sky = [np.tile(np.linspace(40 + i, 220, SIZE[0], dtype=np.uint8)[None, :, None], (SIZE[1], 1, 3))
           for i in range(6)]
    write_clip(tmp_path / "sky.mp4", sky)
    result = restore_video(pipe, tmp_path / "sky.mp4", tmp_path / "out.mp4", progress=False)
    assert result.copied and "no face found" in result.message
    assert (tmp_path / "out.mp4").read_bytes() == (tmp_path / "sky.mp4").read_bytes()


def test_cli_restore_video(pipe, clip_file, tmp_path, capsys) -> None:
    from gpen_hf.cli import main

    pipe.model.save_pretrained(tmp_path / "model")
    (tmp_path / "bad.mp4").write_text("nope")
    code = main(["restore-video", str(clip_file), str(tmp_path / "bad.mp4"), "-o", str(tmp_path / "out"),
                 "--model", str(tmp_path / "model"), "--batch-size", "4", "--alpha", "0.8",
                 "--mask", "square"])
    captured = capsys.readouterr()
    assert code == 1 and "bad.mp4: not a video" in captured.err and "1 of 2 video(s)" in captured.err
    assert "16 frames, 1 face track(s)" in captured.out and (tmp_path / "out" / "pan.mp4").is_file()
    code = main(["restore-video", str(clip_file), "-o", str(tmp_path / "one.mov"), "--model",
                 str(tmp_path / "model"), "--detect-every", "2", "--temporal", "0", "0"])
    assert code == 0 and len(decode(tmp_path / "one.mov")[0]) == 16


class RecordingPipeline(GPENPipeline):
    """The real pipeline, recording what its paste-back gets; its measured alpha alternates 0.3 / 0.9."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.measured: list[float] = []
        self.pasted: list[list] = []

    def face_fidelity(self, *args, **kwargs):
        from dataclasses import replace

        fidelity = super().face_fidelity(*args, **kwargs)
        self.measured.append(0.3 if len(self.measured) % 2 else 0.9)
        return replace(fidelity, alpha=self.measured[-1])

    def paste_back(self, background, restored, crops, matrices, masks, fidelity):
        self.pasted.append([m for m in masks] + [f.alpha for f in fidelity])
        return super().paste_back(background, restored, crops, matrices, masks, fidelity)


def test_video_uses_the_photo_paste_back_with_a_smoothed_alpha(pipe, clip) -> None:
    recording = RecordingPipeline(pipe.model)
    frames = clip[0]
    out = list(recording.restore_frames(frames, alpha="auto", identity_guard=False, detect_every=1))
    assert len(out) == len(frames) == len(recording.pasted)  # every frame through GPENPipeline.paste_back
    assert all(np.array_equal(p[0], crop_mask("face", 32)) for p in recording.pasted)
    pasted = np.array([p[-1] for p in recording.pasted])
    measured = np.array(recording.measured)
    assert np.abs(np.diff(measured)).max() == pytest.approx(0.6)
    assert np.abs(np.diff(pasted[8:])).max() < 0.1 * 0.6  # once started, alpha does not jump with the measure
    assert 0.45 < pasted[-4:].mean() < 0.75  # and settles near the measure's mean
    unsmoothed = RecordingPipeline(pipe.model)
    list(unsmoothed.restore_frames(frames, alpha="auto", identity_guard=False, detect_every=1, smooth=False))
    assert np.abs(np.diff([p[-1] for p in unsmoothed.pasted])).max() == pytest.approx(0.6)


def test_video_paste_masks_follow_the_photo_options(pipe, clip) -> None:
    frames = clip[0][:6]
    forced = {"alpha": 1.0, "identity_guard": False, "detect_every": 1}
    face = np.stack(list(pipe.restore_frames(frames, mask="face", **forced))).astype(np.float32)
    square = np.stack(list(pipe.restore_frames(frames, mask="square", **forced))).astype(np.float32)
    source = np.stack(frames).astype(np.float32)
    # the face mask leaves more of the frame (hair, background) as it came than the square crop does
    assert np.abs(face - source).mean() < 0.8 * np.abs(square - source).mean()
    nothing = np.stack(list(pipe.restore_frames(frames, alpha=0.0, identity_guard=False, input_strength=0.0)))
    assert np.array_equal(nothing, np.stack(frames))  # alpha 0, no input steadying: the frames as they came
    steadied = list(pipe.restore_frames(frames, alpha=0.0, identity_guard=False))
    landmarks = pipe.detector.detect(photo()).landmarks[0]
    transforms = clip[1]
    masks = [face_mask(landmarks, m, SIZE) for m in transforms]
    # alpha 0 keeps the input face, steadied: it flickers less than the input
    assert warping_error(steadied, transforms, masks) < 0.8 * warping_error(frames, transforms, masks)
    with pytest.raises(ValueError, match="face-parsing model"):
        VideoRestorer(pipe, mask="parsing")
    with pytest.raises(ValueError, match="alpha must be 'auto' or a number"):
        VideoRestorer(pipe, alpha="sometimes")


def test_fidelity_smoother_steadies_jitter_and_follows_a_real_change() -> None:
    from gpen_hf.faces.quality import FaceQuality
    from gpen_hf.fidelity import FaceFidelity
    from gpen_hf.video.temporal import FidelitySmoother

    rng = np.random.default_rng(0)
    smoother = FidelitySmoother(25)
    target = np.r_[np.full(50, 0.3), np.full(50, 0.9)]
    measured = np.clip(target + rng.normal(0, 0.05, 100), 0, 1)
    out = [smoother(0, FaceFidelity(FaceQuality(0.05, 3.0 + a, 1.2, a), a)) for a in measured]
    alphas = np.array([f.alpha for f in out])
    assert np.abs(np.diff(alphas[10:50])).std() < 0.3 * np.abs(np.diff(measured[10:50])).std()
    assert abs(alphas[75] - 0.9) < 0.1  # the step is followed within a second
    assert out[-1].quality.noise == pytest.approx(3.9, abs=0.2)  # the gate's noise is smoothed with it


def test_crf_sets_the_output_quality(pipe, clip_file, tmp_path) -> None:
    from gpen_hf.cli import main

    pipe.model.save_pretrained(tmp_path / "model")
    sizes = {}
    for crf in (10, 35):
        target = tmp_path / f"crf{crf}.mp4"
        assert main(["restore-video", str(clip_file), "-o", str(target), "--model", str(tmp_path / "model"),
                     "--crf", str(crf), "--alpha", "1", "--no-identity-guard"]) == 0
        sizes[crf] = target.stat().st_size
    assert sizes[10] > 2 * sizes[35]
    assert main(["restore-video", str(clip_file), "-o", str(tmp_path / "x.mp4"), "--crf", "60"]) == 2
    reader = VideoReader(clip_file)
    with pytest.raises(VideoError, match="crf must be in"):
        VideoWriter(tmp_path / "y.mp4", reader.info, crf=-1)
    reader.close()


class FlickeringParsing(RecordingPipeline):
    """Its "parsing" masks alternate between the face and the square masks from frame to frame."""

    def paste_masks(self, crops, kind):
        if kind != "parsing":
            return super().paste_masks(crops, kind)
        self.calls = getattr(self, "calls", 0) + 1
        return [crop_mask("square" if self.calls % 2 else "face", self.resolution)] * len(crops)


def test_per_face_masks_are_steadied_along_the_track(pipe, clip) -> None:
    frames = clip[0]

    def mask_jumps(**kwargs) -> float:
        recording = FlickeringParsing(pipe.model, parsing_model=torch.nn.Identity())
        list(recording.restore_frames(frames, alpha=1.0, identity_guard=False, mask="parsing", batch_size=1,
                                      detect_every=1, **kwargs))
        masks = np.stack([p[0] for p in recording.pasted[4:]])
        return float(np.abs(np.diff(masks, axis=0)).mean())

    assert mask_jumps() < 0.5 * mask_jumps(input_strength=0.0, output_strength=0.0)


def test_fidelity_is_measured_every_k_frames_of_a_track(pipe, clip) -> None:
    frames = clip[0]
    every_fourth = RecordingPipeline(pipe.model)
    list(every_fourth.restore_frames(frames, alpha="auto", detect_every=1))
    assert len(every_fourth.measured) == -(-len(frames) // 4) and len(every_fourth.pasted) == len(frames)
    every_frame = RecordingPipeline(pipe.model)
    list(every_frame.restore_frames(frames, alpha="auto", detect_every=1, measure_every=1))
    assert len(every_frame.measured) == len(frames)
    with pytest.raises(ValueError, match="measure_every must be >= 1"):
        VideoRestorer(pipe, measure_every=0)


class OneFalseDetection:
    """The real detector, plus a face-sized false detection in the image's top-left corner on frame 3 only."""

    def __init__(self, detector) -> None:
        self.detector, self.calls = detector, []

    def detect(self, rgb: np.ndarray):
        from gpen_hf.faces.detect import Detections

        dets = self.detector.detect(rgb)
        self.calls.append(len(self.calls))
        if len(self.calls) != 4:
            return dets
        fake = dets.landmarks[:1] - dets.landmarks[:1].min(axis=1, keepdims=True) + 2  # the face, moved
        return Detections(np.vstack([dets.boxes, [[0, 0, 40, 40]]]).astype(np.float32),
                          np.vstack([dets.landmarks, fake]).astype(np.float32),
                          np.r_[dets.scores, 0.6].astype(np.float32))


def test_a_detection_never_confirmed_is_not_restored(pipe, clip) -> None:
    frames = clip[0]
    detector = OneFalseDetection(pipe.detector)
    false_pipe = GPENPipeline(pipe.model, detector=detector)
    restorer = VideoRestorer(false_pipe, alpha=1.0, identity_guard=False, detect_every=1, fade=0, batch_size=1)
    with_false = [out for f in frames for out, _ in restorer.push(f)] + [out for out, _ in restorer.flush()]
    clean = list(pipe.restore_frames(frames, alpha=1.0, identity_guard=False, detect_every=1, fade=0,
                                     batch_size=1))
    corner = (slice(0, 30), slice(0, 30))
    assert all(np.array_equal(a[corner], b[corner]) for a, b in zip(with_false, clean))
    assert restorer.num_tracks == 1 and restorer.tracker._next_id == 2  # seen, never confirmed, never pasted


class EveryOtherFrame:
    """The real detector, blind on every other call (a small face found now and then)."""

    def __init__(self, detector) -> None:
        self.detector, self.calls = detector, 0

    def detect(self, rgb: np.ndarray):
        self.calls += 1
        dets = self.detector.detect(rgb)
        return dets if self.calls % 2 else dets.select([])


def test_a_face_detected_only_now_and_then_is_still_restored(pipe, clip) -> None:
    frames = clip[0]
    flaky = GPENPipeline(pipe.model, detector=EveryOtherFrame(pipe.detector))
    restorer = VideoRestorer(flaky, alpha=1.0, identity_guard=False, detect_every=1)
    list(restorer(frames))
    assert restorer.num_tracks == 1 and restorer.frames_with_faces == len(frames)

