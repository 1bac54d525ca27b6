"""The Space's Video tab: restore the faces of a short clip (limits checked before any work), play before/after.

The clip is checked from its header first (a video at all, length, frame count, size) so a visitor learns at
once what is wrong; then :func:`gpen_hf.video.restore.restore_video` does the work (tracking, temporal blend,
audio and timing kept) with Gradio's progress bar fed by the frame count.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from gpen_hf.video.io import VideoError, VideoReader
from gpen_hf.video.restore import restore_video

MAX_SECONDS = float(os.environ.get("GPEN_MAX_VIDEO_SECONDS", "20"))
MAX_FRAMES = int(os.environ.get("GPEN_MAX_VIDEO_FRAMES", "600"))
MAX_SIDE = int(os.environ.get("GPEN_MAX_VIDEO_SIDE", "1280"))


def check_clip(path: str) -> str:
    """Raise ``gr.Error`` naming the limit a clip is past; returns its description."""
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


def build(get_pipe: Callable, out_dir: Path) -> None:
    """Add the tab's components and events (call inside ``gr.Blocks`` / ``gr.Tab``)."""

    def restore(clip: str | None, alpha: float, progress=gr.Progress()):  # noqa: B008 - Gradio's idiom
        if clip is None:
            raise gr.Error("No video: upload a short clip first.")
        described = check_clip(clip)
        target = out_dir / f"restored_{time.time_ns()}.mp4"
        start = time.perf_counter()
        progress(0, desc="restoring")
        try:
            result = restore_video(get_pipe(), clip, target, alpha=float(alpha), progress=False)
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

    gr.Markdown(f"Short clips only here: up to {MAX_SECONDS:g} s, {MAX_FRAMES} frames and {MAX_SIDE} px on the "
                "long side. Faces are tracked and kept steady from frame to frame; the sound is kept.")
    with gr.Row():
        with gr.Column(scale=2):
            clip = gr.Video(label="Video", sources=["upload"], height=300)
            alpha = gr.Slider(0, 1, value=1.0, step=0.05, label="Fidelity blend α",
                              info="1 = restored face only, 0 = the input face")
            run_btn = gr.Button("Restore video", variant="primary")
        with gr.Column(scale=3):
            with gr.Row():
                before = gr.Video(label="Before", interactive=False, height=300)
                after = gr.Video(label="After", interactive=False, height=300)
            summary = gr.Markdown()
            download = gr.DownloadButton("Download restored MP4", variant="secondary")
    run_btn.click(restore, [clip, alpha], [before, after, download, summary], api_name="restore_video",
                  concurrency_id="model")
