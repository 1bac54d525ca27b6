"""The Space's event handlers as plain functions: widget values in, numpy images, file paths, text and dicts out.

``space/app.py`` only lays the widgets out and binds these to their events (``functools.partial(fn, state)``),
so the tests call them directly, without a server. Each takes the :class:`SpaceState` first; errors a visitor
should read are ``gr.Error`` (shown as a toast in the app, an ordinary exception anywhere else), and
``gr.Warning`` is a ``warnings.warn`` outside an event.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr
import lab
import numpy as np

from gpen_hf.degradation import degrade
from gpen_hf.faces.align import resize_face
from gpen_hf.image_io import ImageLoadError, load_image, save_image
from gpen_hf.metrics import FaceMetrics
from gpen_hf.pipeline import GPENPipeline, lanczos_upsample
from gpen_hf.video.io import VideoError, VideoReader
from gpen_hf.video.restore import restore_video

MAX_PIXELS = int(float(os.environ.get("GPEN_MAX_PIXELS", "12e6")))  # input photo size limit
MAX_OUTPUT_SIDE = int(os.environ.get("GPEN_MAX_OUTPUT_SIDE", "8192"))
DISPLAY_SIDE = 1600  # the before/after slider shows at most this; the PNG download is full resolution
MAX_SECONDS = float(os.environ.get("GPEN_MAX_VIDEO_SECONDS", "20"))
MAX_FRAMES = int(os.environ.get("GPEN_MAX_VIDEO_FRAMES", "600"))
MAX_SIDE = int(os.environ.get("GPEN_MAX_VIDEO_SIDE", "1280"))
# A public Space must not let visitors load arbitrary Hub repos; locally it is allowed.
ALLOW_MODEL_SWITCH = (
    os.environ.get("GPEN_ALLOW_MODEL_SWITCH", "0" if os.environ.get("SPACE_ID") else "1") == "1"
)
#: what ``about`` returns, in this order: the banner, the model's provenance, its card, its config
About = tuple[str, str, str, dict[str, Any]]


class SpaceState:
    """What the handlers share: the loaded pipeline and what it is (swapped as a whole when another model loads),
    the metric nets, the folder of the files handed out, and the lab's slider ranges (those of the first model's
    resolution: the sliders are laid out once)."""

    def __init__(self, model_path: str | None = None, out_dir: str | Path | None = None) -> None:
        self.lock = threading.Lock()
        self.metrics = FaceMetrics()
        self.out_dir = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="gpen_space_"))
        self.load(model_path)
        self.resolution = self.pipe.resolution
        self.ranges = lab.slider_ranges(self.resolution)

    def load(self, model_path: str | None) -> None:
        pipe, info = lab.load_model(model_path)
        with self.lock:
            self.pipe: GPENPipeline = pipe
            self.info: lab.ModelInfo = info


def megapixels(w: int, h: int) -> str:
    return f"{w}×{h} ({w * h / 1e6:.1f} MP)"


def check_size(w: int, h: int) -> None:
    """Refuse a photo of more than ``MAX_PIXELS``, saying its size and the limit."""
    if w * h > MAX_PIXELS:
        raise gr.Error(
            f"The photo is too large: {megapixels(w, h)}; the limit is {MAX_PIXELS / 1e6:.0f} MP. "
            "Resize it and try again."
        )


# ---------------------------------------------------------------------- restore


def restore(state: SpaceState, photo: str | None, alpha: float, upscale: float, only_center_face: bool,
            aligned: bool, auto_fidelity: bool = True, mask: str = "face", bg_sr: bool = False,
            ) -> tuple[tuple[np.ndarray, np.ndarray], list[tuple[np.ndarray, str]], str, str]:
    """Restore every face of the photo at path ``photo``; returns (before, after) at display size, the
    (cropped | restored, caption) face pairs, the full-resolution PNG's path and a Markdown summary.

    ``auto_fidelity`` measures each face's degradation and sets its blend (``alpha`` is then ignored); each
    face's caption says what was measured and used."""
    if photo is None:
        raise gr.Error("No photo: upload, paste or take one first.")
    try:
        loaded = load_image(photo)
    except ImageLoadError as err:
        raise gr.Error(
            f"Not an image this app can read: {Path(str(err).split(':')[0]).name}. "
            "Upload a JPEG, PNG, WebP or BMP photo."
        )
    h, w = loaded.rgb.shape[:2]
    check_size(w, h)
    if max(w, h) * upscale > MAX_OUTPUT_SIDE:
        raise gr.Error(
            f"Upscale ×{upscale:g} of {w}×{h} would exceed {MAX_OUTPUT_SIDE} px; choose a smaller upscale."
        )
    pipe = state.pipe
    image = loaded.rgb if loaded.alpha is None else np.dstack([loaded.rgb, loaded.alpha])
    start = time.perf_counter()
    out = pipe(
        image,
        aligned=aligned,
        alpha="auto" if auto_fidelity else float(alpha),
        mask=mask,
        upscale=float(upscale),
        only_center_face=only_center_face,
        background_upsampler="realesrnet-x2" if bg_sr else "lanczos",
        output_type="np",
    )
    seconds = time.perf_counter() - start
    result = out.image
    png = save_image(
        state.out_dir / f"restored_{time.time_ns()}.png",
        result[:, :, :3],
        result[:, :, 3] if result.shape[2] == 4 else None,
    )
    oh, ow = result.shape[:2]
    before = lanczos_upsample(loaded.rgb, ow / w)
    factor = min(1.0, DISPLAY_SIDE / max(ow, oh))
    slider = (lanczos_upsample(before, factor), lanczos_upsample(result[:, :, :3], factor))
    faces = [
        (np.hstack([c, r]), f"face {i + 1}: cropped | restored · {f.summary()} · detector score {s:.2f}")
        for i, (c, r, s, f) in enumerate(zip(out.cropped_faces, out.restored_faces, out.scores, out.fidelity))
    ]
    summary = (
        f"**{out.num_faces} face(s)** restored in **{seconds:.2f} s** · {megapixels(w, h)} → "
        f"{megapixels(ow, oh)} · model `{state.info.name}` ({pipe.resolution} px)"
    )
    if out.num_faces == 0:
        gr.Warning("No face found: the photo is returned " + ("upscaled" if upscale != 1 else "unchanged") + ".")
        summary = f"**No face found** — {out.message}. " + summary
    return slider, faces, str(png), summary


# ---------------------------------------------------------------------- degradation lab


def run_lab(state: SpaceState, hq: np.ndarray | None, blur_kind: str, kernel: float, sigma: float,
            motion_length: float, motion_angle: float, scale: float, noise: float, jpeg: float, seed: float,
            ) -> tuple[np.ndarray, np.ndarray, list[list[Any]], dict[str, Any]]:
    """Degrade the aligned HQ face with these parameters and restore it; returns the degraded and restored
    faces, the metric rows against the HQ and the parameters used."""
    if hq is None:
        raise gr.Error("No HQ face yet: pick an example face or upload one first.")
    try:
        params = lab.lab_params(blur_kind, kernel, sigma, motion_length, motion_angle, scale, noise, jpeg, seed)
    except ValueError as err:
        raise gr.Error(f"Bad degradation parameter: {err}")
    pipe = state.pipe
    hq = resize_face(np.asarray(hq, np.uint8)[:, :, :3], pipe.resolution)
    lq = degrade(hq, params)
    restored = pipe.restore_faces([lq])[0]
    rows = lab.metric_rows(state.metrics, hq, lq, restored)
    return lq, restored, rows, params.to_dict()


def load_lab(state: SpaceState, photo: str | None, already_aligned: bool, *values: Any) -> tuple:
    """Align the face of the photo at path ``photo`` (or clear the lab when there is none), then run the lab
    with the controls' ``values``; returns the HQ face, a note on it, then what :func:`run_lab` returns."""
    if photo is None:
        return None, "", None, None, None, None
    try:
        rgb = load_image(photo).rgb
    except ImageLoadError:
        raise gr.Error("Not an image this app can read; upload a JPEG, PNG, WebP or BMP face.")
    hq, note = lab.align_face(rgb, state.pipe, bool(already_aligned))
    return (
        hq,
        f"HQ face: {note} ({hq.shape[1]}×{hq.shape[0]} px, the model's resolution)",
        *run_lab(state, hq, *values),
    )


def random_lab(state: SpaceState) -> list[Any]:
    """New control values drawn as in training (paper preset), with a fresh seed."""
    seed = int(np.random.default_rng().integers(0, 2**31 - 1))
    return lab.random_lab_values(seed, state.pipe.resolution, state.ranges)


# ---------------------------------------------------------------------- about / model


def about(state: SpaceState) -> About:
    """The loaded model: banner, provenance, card (without front matter) and config."""
    info = state.info
    return info.banner(), info.markdown(), lab.card_body(info.card) or "*(no model card)*", info.config


def pick_model(state: SpaceState, name: str | None) -> About:
    """The dropdown: the shipped model or the authors' weights by name (fetched on first use)."""
    if not name:
        return about(state)
    try:
        state.load(name)
    except Exception as err:  # noqa: BLE001 - one line: not cached offline, Hub not reachable, ...
        raise gr.Error(f"Could not load {name!r}: {err}")
    return about(state)


def switch_model(state: SpaceState, source: str) -> About:
    """The text box: load a folder or Hub repo id (where ``ALLOW_MODEL_SWITCH``)."""
    if not ALLOW_MODEL_SWITCH:
        raise gr.Error("Switching models is disabled on this Space; set GPEN_MODEL in its settings instead.")
    try:
        state.load(source.strip() or None)
    except Exception as err:  # noqa: BLE001 - whatever failed to load is shown as is
        raise gr.Error(f"Could not load {source!r}: {err}")
    if state.pipe.resolution != state.resolution:
        gr.Warning(f"The new model works at {state.pipe.resolution} px; lab slider ranges stay those of "
                   f"{state.resolution} px.")
    return about(state)


# ---------------------------------------------------------------------- video


def check_clip(path: str) -> str:
    """Raise ``gr.Error`` naming the limit a clip is past (read from its header, before any work); returns its
    description."""
    name = Path(path).name
    try:
        reader = VideoReader(path)
    except VideoError as err:
        raise gr.Error(f"{name} is not a video this app can read: {str(err).split(': ', 1)[-1]}") from None
    try:
        info, frames = reader.info, reader.expected_frames()
    finally:
        reader.close()
    if max(info.width, info.height) > MAX_SIDE:
        raise gr.Error(f"{name} is {info.width}×{info.height}; the limit here is {MAX_SIDE} px on the long side. "
                       "Resize it (or run `gpen-hf restore-video` locally, which has no limit).")
    if info.duration and info.duration > MAX_SECONDS:
        raise gr.Error(f"{name} lasts {info.duration:.1f} s; the limit here is {MAX_SECONDS:g} s. Trim it, or run "
                       "`gpen-hf restore-video` locally.")
    if frames > MAX_FRAMES:
        raise gr.Error(f"{name} has {frames} frames; the limit here is {MAX_FRAMES}. Trim it, or run "
                       "`gpen-hf restore-video` locally.")
    return info.describe()


def restore_clip(state: SpaceState, clip: str | None, alpha: float, auto_fidelity: bool = True,
                 progress: gr.Progress = gr.Progress()) -> tuple[str, str, str, str]:  # noqa: B008 - Gradio's idiom
    """Restore the faces of the clip at path ``clip`` (tracking, temporal blend, audio and timing kept);
    returns the input clip, the restored MP4 (to play and to download) and a Markdown summary.

    ``auto_fidelity`` sets each face's blend from its measured degradation, smoothed along its track, as
    ``restore-video --alpha auto`` does (``alpha`` is then ignored)."""
    if clip is None:
        raise gr.Error("No video: upload a short clip first.")
    described = check_clip(clip)
    target = state.out_dir / f"restored_{time.time_ns()}.mp4"
    start = time.perf_counter()
    progress(0, desc="restoring")
    try:
        result = restore_video(state.pipe, clip, target, alpha="auto" if auto_fidelity else float(alpha),
                               progress=False)
    except VideoError as err:
        raise gr.Error(str(err).replace(str(clip), Path(clip).name)) from None
    seconds = time.perf_counter() - start
    summary = (f"**{result.frames} frames**, {result.tracks} face track(s) in {result.frames_with_faces} "
               f"frames, restored in **{seconds:.1f} s** ({result.fps:.2f} frames/s) · input: {described}")
    if result.notes:
        summary += "\n\n" + "\n".join(f"- {n.replace(str(clip), Path(clip).name)}" for n in result.notes)
    if result.faces == 0:
        gr.Warning("No face found: the video is returned unchanged.")
    return clip, str(target), str(target), summary
