"""GPEN face restoration Space: restore photos and short videos, a degradation lab, and what model is loaded.

Run locally with ``python space/app.py``; on a Hugging Face Space this file is the ``app_file``. The model is
``GPEN_MODEL`` (a ``from_pretrained`` folder, Hub repo id or a name of ``gpen-hf models`` such as ``gpen-bfr-512``)
or else ``gpen_hf/assets/gpen-default``; the About tab's dropdown switches between those names.
``GPEN_PARSENET`` (a ParseNet weight file) adds the face-parsing paste mask. Every
event has an ``api_name``, so the app can be driven from ``gradio_client`` too.

This file is the layout only: the widgets and which handler each event calls. The handlers are plain functions
in ``handlers.py`` (tested without a server); the glue they use (model choice, lab parameters) is ``lab.py``.
"""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path

import gradio as gr
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `lab`, `handlers` (and on a Space, `gpen_hf`) sit here
import handlers
import lab
import video_tab

from gpen_hf.faces.mask import MASK_KINDS

EXAMPLES = Path(__file__).resolve().parent / "examples"
LAB_SIDE = 320  # display height of the lab's three faces
# the lab's three faces fill their boxes at the same size whatever the model's resolution
CSS = ".lab-face img { width: 100% !important; height: 100% !important; object-fit: contain; }"
LAUNCH_KWARGS = {"max_file_size": "25mb", "footer_links": ["api", "gradio"], "css": CSS}


def photo_input(**kwargs) -> gr.Image:
    """A ``gr.Image`` whose upload check says what is wrong (not an image, too large) instead of a bare error.

    The size is read from the file header, before the pixels are decoded. (An instance wrapper, not a
    subclass: Gradio writes a ``.pyi`` stub next to the file of every Component subclass.)
    """
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    preprocess = image.preprocess

    def checked(payload):
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            name = payload.orig_name or Path(payload.path).name
            try:
                with Image.open(payload.path) as im:
                    size = im.size
            except Image.DecompressionBombError:
                raise gr.Error(
                    f"{name}: the image is far too large (over {Image.MAX_IMAGE_PIXELS / 1e6:.0f} MP)."
                ) from None
            except (OSError, ValueError, SyntaxError):
                raise gr.Error(
                    f"{name} is not an image this app can read; upload a JPEG, PNG, WebP or BMP photo."
                ) from None
            handlers.check_size(*size)
        return preprocess(payload)

    image.preprocess = checked
    return image


def _lab_view(label: str, **extra) -> gr.Image:
    """One of the lab's three side-by-side faces: same size, PNG, read-only."""
    return gr.Image(label=label, elem_classes="lab-face", format="png", interactive=False, height=LAB_SIDE, **extra)


def create_app(model_path: str | None = None) -> gr.Blocks:
    """Lay out the Blocks app around the model at ``model_path`` (else ``GPEN_MODEL``, else the default) and
    bind each event to its handler in ``handlers.py``."""
    state = handlers.SpaceState(model_path)
    res, ranges = state.resolution, state.ranges

    def bound(fn):
        return partial(fn, state)

    with gr.Blocks(title="GPEN face restoration") as demo:
        gr.Markdown(
            "# GPEN blind face restoration\nGAN Prior Embedded Network (Yang et al., CVPR 2021), "
            "reimplemented on Hugging Face conventions."
        )
        banner = gr.Markdown(state.info.banner())
        with gr.Tab("Restore"):
            with gr.Row():
                with gr.Column(scale=2):
                    photo = photo_input(label="Photo", sources=["upload", "clipboard", "webcam"], height=360)
                    auto_fidelity = gr.Checkbox(
                        value=True,
                        label="Automatic fidelity (per face)",
                        info="measure each face's blur, noise and JPEG blocking: clean faces are left "
                        "almost as they are, degraded ones fully restored",
                    )
                    alpha = gr.Slider(
                        0,
                        1,
                        value=1.0,
                        step=0.05,
                        label="Fidelity blend α (when not automatic)",
                        info="1 = restored face only, 0 = the input face",
                    )
                    mask_kind = gr.Radio(
                        [k for k in MASK_KINDS if k != "parsing" or state.pipe.parsing_model is not None],
                        value="face",
                        label="Paste mask",
                        info="face: the face region only (hair, ears, background stay the photo's)",
                    )
                    upscale = gr.Slider(1, 4, value=1, step=0.5, label="Upscale")
                    with gr.Row():
                        only_center = gr.Checkbox(label="Only the centre face")
                        aligned = gr.Checkbox(label="Input is an aligned face crop")
                    bg_sr = gr.Checkbox(
                        label="Background: the authors' Real-ESRNet ×2 (when upscaling)",
                        interactive=lab.background_sr_available(),
                        info=None if lab.background_sr_available() else "offline and not in the local cache",
                    )
                    run_btn = gr.Button("Restore", variant="primary")
                    gr.Examples(
                        [[str(p)] for p in sorted(EXAMPLES.glob("*.jpg"))],
                        inputs=[photo],
                        label="Example photos (see examples/LICENSES.md)",
                    )
                with gr.Column(scale=3):
                    slider = gr.ImageSlider(
                        label="Before | after", format="png", type="numpy", max_height=600, interactive=False
                    )
                    summary = gr.Markdown()
                    download = gr.DownloadButton("Download full-resolution PNG", variant="secondary")
                    faces = gr.Gallery(
                        label="Faces: cropped | restored",
                        format="png",
                        columns=3,
                        height="auto",
                        object_fit="contain",
                    )
            run_btn.click(
                bound(handlers.restore),
                [photo, alpha, upscale, only_center, aligned, auto_fidelity, mask_kind, bg_sr],
                [slider, faces, download, summary],
                api_name="restore",
                concurrency_id="model",
            )

        with gr.Tab("Degradation lab"):
            gr.Markdown(
                "LQ = JPEG_q((HQ ⊗ k)↓s + n_σ)↑s, as in training (sizes in pixels of the model's "
                f"{res}-px faces). Change any control; the HQ face stays loaded."
            )
            with gr.Row():
                with gr.Column(scale=1):
                    lab_in = photo_input(label="HQ face (any photo: the largest face is aligned)", height=220)
                    lab_aligned = gr.Checkbox(label="Already aligned (skip detection)")
                    gr.Examples(
                        [[str(p), True] for p in sorted(EXAMPLES.glob("*_256.png"))],
                        [lab_in, lab_aligned],
                        label="Example aligned faces",
                    )
                    blur = gr.Radio(list(lab.BLUR_KINDS), value="Gaussian", label="Blur kind")
                    kernel = gr.Slider(3, 41, value=21, step=2, label="Gaussian kernel size")
                    sigma = gr.Slider(
                        0, ranges.sigma, value=min(2.0, ranges.sigma), step=0.05, label="Blur σ"
                    )
                    motion_len = gr.Slider(0, ranges.motion, value=0, step=0.5, label="Motion length (px)")
                    motion_angle = gr.Slider(0, 180, value=0, step=1, label="Motion angle (°)")
                    scale = gr.Slider(
                        1,
                        ranges.scale,
                        value=min(4.0, ranges.scale),
                        step=0.25,
                        label="Downsampling factor s",
                    )
                    noise = gr.Slider(0, 50, value=5, step=0.5, label="Noise σ (0–255 scale)")
                    jpeg = gr.Slider(0, 100, value=50, step=1, label="JPEG quality (0 = no JPEG)")
                    seed = gr.Number(value=0, precision=0, label="Seed (noise)")
                    with gr.Row():
                        random_btn = gr.Button("Random, like training")
                        lab_btn = gr.Button("Degrade + restore", variant="primary")
                with gr.Column(scale=3):
                    lab_note = gr.Markdown()
                    with gr.Row(equal_height=True):
                        hq_view = _lab_view("HQ", type="numpy")
                        lq_view = _lab_view("degraded")
                        out_view = _lab_view("restored")
                    table = gr.Dataframe(
                        headers=lab.METRIC_HEADERS,
                        label="Against the HQ face",
                        interactive=False,
                        column_count=len(lab.METRIC_HEADERS),
                    )
                    params_json = gr.JSON(label="Degradation parameters used")
            controls = [blur, kernel, sigma, motion_len, motion_angle, scale, noise, jpeg, seed]
            lab_out = [lq_view, out_view, table, params_json]
            lab_in.change(
                bound(handlers.load_lab),
                [lab_in, lab_aligned, *controls],
                [hq_view, lab_note, *lab_out],
                api_name="lab_load",
                concurrency_id="model",
            )
            gr.on(
                [lab_btn.click, blur.input, seed.input, *(s.release for s in controls[1:-1])],
                bound(handlers.run_lab),
                [hq_view, *controls],
                lab_out,
                api_name="lab",
                concurrency_id="model",
                trigger_mode="always_last",
            )
            random_btn.click(bound(handlers.random_lab), None, controls, api_name="lab_random").then(
                bound(handlers.run_lab), [hq_view, *controls], lab_out, api_name=False, concurrency_id="model"
            )

        with gr.Tab("Video"):
            video_tab.build(bound(handlers.restore_clip))

        with gr.Tab("About / model"):
            model_md = gr.Markdown()
            with gr.Accordion("Model card", open=True):
                card_md = gr.Markdown()
            config_json = gr.JSON(label="config.json")
            choices, usable, note = lab.model_choices()
            current = lab.SHIPPED_CHOICE if state.info.source == str(lab.DEFAULT_MODEL_DIR) else state.info.source
            model_pick = gr.Dropdown(
                choices,
                value=current if current in choices else None,
                label="Model: the shipped one or the authors' weights by name",
                info=note,
                interactive=usable,
            )
            with gr.Row():
                model_box = gr.Textbox(
                    label="Load another model (folder or Hub repo id)",
                    scale=4,
                    interactive=handlers.ALLOW_MODEL_SWITCH,
                    placeholder="GPEN_MODEL decides on a Space" if not handlers.ALLOW_MODEL_SWITCH else "",
                )
                load_btn = gr.Button("Load", interactive=handlers.ALLOW_MODEL_SWITCH, scale=1)
            gr.Markdown(
                "On a Space, set the `GPEN_MODEL` variable (folder or Hub id) in the Space settings. "
                "Code and weights: see the project README; example images: `space/examples/LICENSES.md`."
            )
            about_out = [banner, model_md, card_md, config_json]
            load_btn.click(bound(handlers.switch_model), [model_box], about_out, api_name="load_model")
            model_pick.input(bound(handlers.pick_model), [model_pick], about_out, api_name="pick_model", concurrency_id="model")
            demo.load(bound(handlers.about), None, about_out, api_name="about")
    demo.queue(default_concurrency_limit=int(os.environ.get("GPEN_CONCURRENCY", "1")), max_size=32)
    return demo


if __name__ == "__main__":
    try:
        app = create_app()
    except FileNotFoundError as err:  # no model yet: say so without a traceback
        sys.exit(f"gpen-hf Space: {err}")
    app.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"), **LAUNCH_KWARGS)
