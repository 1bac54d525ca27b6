"""The Space's Video tab: a short clip in, its restored faces out, played before/after.

Layout only: the handler (limits checked from the clip's header first, then
:func:`gpen_hf.video.restore.restore_video` with Gradio's progress bar) is ``handlers.restore_clip``.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr
import handlers


def build(restore: Callable) -> None:
    """Add the tab's components and bind ``restore`` (``handlers.restore_clip`` with its state) to its button;
    call inside ``gr.Blocks`` / ``gr.Tab``."""
    gr.Markdown(f"Short clips only here: up to {handlers.MAX_SECONDS:g} s, {handlers.MAX_FRAMES} frames and "
                f"{handlers.MAX_SIDE} px on the long side. Faces are tracked and kept steady from frame to frame; "
                "the sound is kept.")
    with gr.Row():
        with gr.Column(scale=2):
            clip = gr.Video(label="Video", sources=["upload"], height=300)
            auto_fidelity = gr.Checkbox(value=True, label="Automatic fidelity (per face)",
                                        info="measure each face's blur, noise and JPEG blocking along its "
                                        "track: clean faces are left almost as they are, degraded ones restored")
            alpha = gr.Slider(0, 1, value=1.0, step=0.05, label="Fidelity blend α",
                              info="used when automatic fidelity is off: 1 = restored face only, 0 = the input")
            run_btn = gr.Button("Restore video", variant="primary")
        with gr.Column(scale=3):
            with gr.Row():
                before = gr.Video(label="Before", interactive=False, height=300)
                after = gr.Video(label="After", interactive=False, height=300)
            summary = gr.Markdown()
            download = gr.DownloadButton("Download restored MP4", variant="secondary")
    run_btn.click(restore, [clip, alpha, auto_fidelity], [before, after, download, summary],
                  api_name="restore_video", concurrency_id="model")
