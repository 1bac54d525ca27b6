"""GPEN face restoration Space: restore photos and short videos, a degradation lab, and what model is loaded.

Run locally with ``python space/app.py``; on a Hugging Face Space this file is the ``app_file``. The model is
``GPEN_MODEL`` (a ``from_pretrained`` folder, Hub repo id or a name of ``gpen-hf models`` such as ``gpen-bfr-512``)
or else ``gpen_hf/assets/gpen-default``; the About tab's dropdown switches between those names.
``GPEN_PARSENET`` (a ParseNet weight file) adds the face-parsing paste mask. Every
event has an ``api_name``, so the app can be driven from ``gradio_client`` too.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `lab` (and on a Space, `gpen_hf`) sit here
import lab
import video_tab

from gpen_hf.degradation import degrade
from gpen_hf.faces.align import resize_face
from gpen_hf.image_io import ImageLoadError, load_image, save_image
from gpen_hf.metrics import FaceMetrics
from gpen_hf.pipeline import lanczos_upsample

EXAMPLES = Path(__file__).resolve().parent / "examples"
MAX_PIXELS = int(float(os.environ.get("GPEN_MAX_PIXELS", "12e6")))  # input photo size limit
MAX_OUTPUT_SIDE = int(os.environ.get("GPEN_MAX_OUTPUT_SIDE", "8192"))
DISPLAY_SIDE = 1600  # the before/after slider shows at most this; the PNG download is full resolution
LAB_SIDE = 320  # display height of the lab's three faces
# the lab's three faces fill their boxes at the same size whatever the model's resolution
CSS = ".lab-face img { width: 100% !important; height: 100% !important; object-fit: contain; }"
LAUNCH_KWARGS = {"max_file_size": "25mb", "footer_links": ["api", "gradio"], "css": CSS}
# A public Space must not let visitors load arbitrary Hub repos; locally it is allowed.
ALLOW_MODEL_SWITCH = (
    os.environ.get("GPEN_ALLOW_MODEL_SWITCH", "0" if os.environ.get("SPACE_ID") else "1") == "1"
)


def _megapixels(w: int, h: int) -> str:
    return f"{w}×{h} ({w * h / 1e6:.1f} MP)"


def check_size(w: int, h: int) -> None:
    if w * h > MAX_PIXELS:
        raise gr.Error(
            f"The photo is too large: {_megapixels(w, h)}; the limit is {MAX_PIXELS / 1e6:.0f} MP. "
            "Resize it and try again."
        )


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
            check_size(*size)
        return preprocess(payload)

    image.preprocess = checked
    return image


class LoadedModel:
    """The loaded pipeline, what it is, and the metric nets; swapped as a whole when another model loads."""

    def __init__(self, model_path: str | None) -> None:
        self.lock = threading.Lock()
        self.metrics = FaceMetrics()
        self.load(model_path)

    def load(self, model_path: str | None) -> None:
        pipe, info = lab.load_model(model_path)
        with self.lock:
            self.pipe, self.info = pipe, info


def _banner(info: lab.ModelInfo) -> str:
    if info.untrained:
        return (
            f"> ⚠️ **The loaded model has random, untrained weights** (`{info.name}`): results "
            "are meaningless. See the *About / model* tab."
        )
    return f"Model: `{info.name}` · {info.config.get('resolution', '?')} px faces"


def _lab_view(label: str, **extra) -> gr.Image:
    """One of the lab's three side-by-side faces: same size, PNG, read-only."""
    return gr.Image(label=label, elem_classes="lab-face", format="png", interactive=False, height=LAB_SIDE, **extra)


def create_app(model_path: str | None = None) -> gr.Blocks:
    """Build the Blocks app around the model at ``model_path`` (else ``GPEN_MODEL``, else the default)."""
    rt = LoadedModel(model_path)
    res = rt.pipe.resolution
    ranges = lab.slider_ranges(res)
    out_dir = Path(tempfile.mkdtemp(prefix="gpen_space_"))

    # ------------------------------------------------------------------ restore
    def restore(photo: str | None, alpha: float, upscale: float, only_center_face: bool, aligned: bool,
                auto_fidelity: bool = True, mask: str = "face", bg_sr: bool = False):
        """Restore every face of a photo; returns (before, after), face pairs, the PNG and a summary.

        ``auto_fidelity`` measures each face's degradation and sets its blend (the ``alpha`` slider is then
        ignored); each face's caption says what was measured and used."""
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
                f"Upscale ×{upscale:g} of {w}×{h} would exceed {MAX_OUTPUT_SIDE} px; choose a "
                "smaller upscale."
            )
        pipe = rt.pipe
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
            out_dir / f"restored_{time.time_ns()}.png",
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
            f"**{out.num_faces} face(s)** restored in **{seconds:.2f} s** · {_megapixels(w, h)} → "
            f"{_megapixels(ow, oh)} · model `{rt.info.name}` ({pipe.resolution} px)"
        )
        if out.num_faces == 0:
            gr.Warning(
                "No face found: the photo is returned " + ("upscaled" if upscale != 1 else "unchanged") + "."
            )
            summary = f"**No face found** — {out.message}. " + summary
        return slider, faces, str(png), summary

    # ------------------------------------------------------------------ lab
    def run_lab(hq, blur_kind, kernel, sigma, motion_length, motion_angle, scale, noise, jpeg, seed):
        """Degrade an aligned HQ face with these parameters and restore it; metrics vs the HQ."""
        if hq is None:
            raise gr.Error("No HQ face yet: pick an example face or upload one first.")
        try:
            params = lab.lab_params(
                blur_kind, kernel, sigma, motion_length, motion_angle, scale, noise, jpeg, seed
            )
        except ValueError as err:
            raise gr.Error(f"Bad degradation parameter: {err}")
        pipe = rt.pipe
        hq = resize_face(np.asarray(hq, np.uint8)[:, :, :3], pipe.resolution)
        lq = degrade(hq, params)
        restored = pipe.restore_faces([lq])[0]
        rows = lab.metric_rows(rt.metrics, hq, lq, restored)
        return lq, restored, rows, params.to_dict()

    def load_lab(photo, already_aligned, *values):
        """Align the uploaded / example face (or clear the lab when there is none), then run the lab."""
        if photo is None:
            return None, "", None, None, None, None
        try:
            rgb = load_image(photo).rgb
        except ImageLoadError:
            raise gr.Error("Not an image this app can read; upload a JPEG, PNG, WebP or BMP face.")
        hq, note = lab.align_face(rgb, rt.pipe, bool(already_aligned))
        return (
            hq,
            f"HQ face: {note} ({hq.shape[1]}×{hq.shape[0]} px, the model's resolution)",
            *run_lab(hq, *values),
        )

    def random_lab():
        """New parameters drawn as in training (paper preset), with a fresh seed."""
        return lab.random_lab_values(
            int(np.random.default_rng().integers(0, 2**31 - 1)), rt.pipe.resolution, ranges
        )

    # ------------------------------------------------------------------ about
    def about():
        info = rt.info
        return _banner(info), info.markdown(), lab.card_body(info.card) or "*(no model card)*", info.config

    def pick_model(name: str | None):
        """The dropdown: the shipped model or the authors' weights by name (fetched on first use)."""
        if not name:
            return about()
        try:
            rt.load(name)
        except Exception as err:  # noqa: BLE001 - one line: not cached offline, Hub not reachable, ...
            raise gr.Error(f"Could not load {name!r}: {err}")
        return about()

    def switch_model(source: str):
        if not ALLOW_MODEL_SWITCH:
            raise gr.Error(
                "Switching models is disabled on this Space; set GPEN_MODEL in its settings instead."
            )
        try:
            rt.load(source.strip() or None)
        except Exception as err:  # noqa: BLE001 - whatever failed to load is shown as is
            raise gr.Error(f"Could not load {source!r}: {err}")
        if rt.pipe.resolution != res:
            gr.Warning(
                f"The new model works at {rt.pipe.resolution} px; lab slider ranges stay those of {res} px."
            )
        return about()

    # ------------------------------------------------------------------ layout
    with gr.Blocks(title="GPEN face restoration") as demo:
        gr.Markdown(
            "# GPEN blind face restoration\nGAN Prior Embedded Network (Yang et al., CVPR 2021), "
            "reimplemented on Hugging Face conventions."
        )
        banner = gr.Markdown(_banner(rt.info))
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
                        ["face", "parsing", "square"] if rt.pipe.parsing_model is not None else ["face", "square"],
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
                restore,
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
                load_lab,
                [lab_in, lab_aligned, *controls],
                [hq_view, lab_note, *lab_out],
                api_name="lab_load",
                concurrency_id="model",
            )
            gr.on(
                [lab_btn.click, blur.input, seed.input, *(s.release for s in controls[1:-1])],
                run_lab,
                [hq_view, *controls],
                lab_out,
                api_name="lab",
                concurrency_id="model",
                trigger_mode="always_last",
            )
            random_btn.click(random_lab, None, controls, api_name="lab_random").then(
                run_lab, [hq_view, *controls], lab_out, api_name=False, concurrency_id="model"
            )

        with gr.Tab("Video"):
            video_tab.build(lambda: rt.pipe, out_dir)

        with gr.Tab("About / model"):
            model_md = gr.Markdown()
            with gr.Accordion("Model card", open=True):
                card_md = gr.Markdown()
            config_json = gr.JSON(label="config.json")
            choices, usable, note = lab.model_choices()
            current = lab.SHIPPED_CHOICE if rt.info.source == str(lab.DEFAULT_MODEL_DIR) else rt.info.source
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
                    interactive=ALLOW_MODEL_SWITCH,
                    placeholder="GPEN_MODEL decides on a Space" if not ALLOW_MODEL_SWITCH else "",
                )
                load_btn = gr.Button("Load", interactive=ALLOW_MODEL_SWITCH, scale=1)
            gr.Markdown(
                "On a Space, set the `GPEN_MODEL` variable (folder or Hub id) in the Space settings. "
                "Code and weights: see the project README; example images: `space/examples/LICENSES.md`."
            )
            about_out = [banner, model_md, card_md, config_json]
            load_btn.click(switch_model, [model_box], about_out, api_name="load_model")
            model_pick.input(pick_model, [model_pick], about_out, api_name="pick_model", concurrency_id="model")
            demo.load(about, None, about_out, api_name="about")
    demo.queue(default_concurrency_limit=int(os.environ.get("GPEN_CONCURRENCY", "1")), max_size=32)
    return demo


if __name__ == "__main__":
    try:
        app = create_app()
    except FileNotFoundError as err:  # no model yet: say so without a traceback
        sys.exit(f"gpen-hf Space: {err}")
    app.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"), **LAUNCH_KWARGS)
