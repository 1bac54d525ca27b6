"""Glue for the Space that is not UI: which model to load and what it is, lab parameters, face prep.

Everything heavy lives in the library (``GPENPipeline``, ``gpen_hf.degradation``, ``gpen_hf.metrics``);
this module only turns widget values into library calls and library results into rows and text.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gpen_hf import registry
from gpen_hf.degradation import PRESETS, DegradationParams, sample
from gpen_hf.faces.align import resize_face
from gpen_hf.hub import is_cached, pretrained_folder
from gpen_hf.pipeline import DEFAULT_MODEL_DIR, GPENPipeline

#: blur kinds offered in the lab and what they mean for ``DegradationParams.blur``
BLUR_KINDS = {"none": "none", "Gaussian": "iso", "motion": "motion"}
METRIC_HEADERS = ["image", "PSNR (dB) ↑", "SSIM ↑", "LPIPS ↓", "identity ↑"]
_UNTRAINED = re.compile(r"\b(untrained|random[ -]?(?:init(?:iali[sz]ed)?|weights))\b", re.IGNORECASE)


@dataclass
class ModelInfo:
    """Where the loaded model came from and what its card says."""

    source: str
    how: str  # how the source was chosen: argument, GPEN_MODEL, default folder
    card: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    untrained: bool = False

    @property
    def name(self) -> str:
        """What to call the model on screen: a Hub repo id as is, a local folder by its name only."""
        local = Path(self.source)
        if local.is_dir():
            return local.resolve().name
        return self.source

    def banner(self) -> str:
        """The line above the tabs: the model and its face size, or a warning when its weights are random."""
        if self.untrained:
            return (
                f"> ⚠️ **The loaded model has random, untrained weights** (`{self.name}`): results "
                "are meaningless. See the *About / model* tab."
            )
        return f"Model: `{self.name}` · {self.config.get('resolution', '?')} px faces"

    def markdown(self) -> str:
        lines = [f"**Model:** `{self.source}` ({self.how})"]
        local = Path(self.source)
        entry = registry.REGISTRY.get(self.source)
        if entry is not None:
            where = f"the authors' `{entry.filename}` ({entry.repo_type} repo `{entry.repo_id}`), converted"
        elif local.is_dir() or local.is_file():
            where = f"local {'folder' if local.is_dir() else 'file'} `{local.resolve()}`"
        else:
            where = f"Hugging Face Hub repo `{self.source}`"
        lines.append(f"**Weights from:** {where}")
        if entry is not None:
            lines.append(f"**Licence:** {entry.licence}")
        lines.append(f"**Face alignment:** the {self.config.get('face_template', 'ffhq')} template")
        if self.untrained:
            lines.insert(
                0,
                "## ⚠️ Random, untrained weights\nThis model was never trained: its outputs are "
                "noise-like and say nothing about GPEN. It is loaded only so the app can be tested.",
            )
        if not self.card:
            lines.append("*No model card (README.md) next to the weights: provenance unknown.*")
        return "\n\n".join(lines)


def resolve_model_source(model_path: str | None = None) -> tuple[str, str]:
    """The model to load: argument, else env ``GPEN_MODEL``, else the shipped default folder."""
    if model_path:
        return str(model_path), "passed to create_app"
    env = os.environ.get("GPEN_MODEL", "").strip()
    if env:
        return env, "from the GPEN_MODEL environment variable"
    if (DEFAULT_MODEL_DIR / "config.json").is_file():
        return str(DEFAULT_MODEL_DIR), "the shipped default model"
    raise FileNotFoundError(
        f"No model to load: GPEN_MODEL is not set and the default model folder {DEFAULT_MODEL_DIR} does not "
        "exist yet. Set GPEN_MODEL to a from_pretrained folder, a Hugging Face Hub repo id or a name of "
        "`gpen-hf models` (e.g. gpen-bfr-512)."
    )


def _read_card_and_config(folder: Path) -> tuple[str, dict[str, Any]]:
    card = folder / "README.md"
    config = folder / "config.json"
    return (
        card.read_text(encoding="utf-8") if card.is_file() else "",
        json.loads(config.read_text()) if config.is_file() else {},
    )


SHIPPED_CHOICE = "shipped model"


def model_choices() -> tuple[list[str], bool, str]:
    """The model dropdown: the shipped model + the authors' weights by name; whether it is usable; its note.

    Offline (``HF_HUB_OFFLINE``) only names already in the local cache are listed, and with none the dropdown
    is greyed out.
    """
    names = registry.names("gpen")
    if not hf_offline():
        return [SHIPPED_CHOICE, *names], True, "The authors' weights are fetched from the Hub on first use."
    cached = [n for n in names if is_cached(registry.REGISTRY[n])]
    note = ("Offline: the authors' weights need the internet (or `gpen-hf download NAME` beforehand)"
            + (f"; cached: {', '.join(cached)}." if cached else "."))
    return [SHIPPED_CHOICE, *cached], bool(cached), note


def background_sr_available() -> bool:
    """Whether the authors' Real-ESRNet ×2 can be used: online, or already in the cache."""
    return not hf_offline() or is_cached(registry.REGISTRY["realesrnet-x2"])


def hf_offline() -> bool:
    from huggingface_hub import constants

    return constants.is_offline_mode()


def card_body(card: str) -> str:
    """The card's Markdown without its YAML front matter (shown raw, it renders as a heading)."""
    match = re.match(r"^---\s*\n.*?\n---\s*\n", card, re.DOTALL)
    return card[match.end() :] if match else card


def is_untrained(card: str) -> bool:
    """A card that says the weights are random / untrained (tag ``untrained`` or those words)."""
    return bool(_UNTRAINED.search(card))


def load_model(model_path: str | None = None, device: str = "cpu") -> tuple[GPENPipeline, ModelInfo]:
    source, how = resolve_model_source(model_path)
    if source == SHIPPED_CHOICE:
        source, how = str(DEFAULT_MODEL_DIR), "the shipped default model"
    folder, subfolder = pretrained_folder(source)  # fetches/converts once; one-line errors
    # GPEN_PARSENET (a ParseNet weight file) adds the face-parsing paste mask
    pipe = GPENPipeline.from_pretrained(folder, subfolder=subfolder, device=device,
                                        parsing_model=os.environ.get("GPEN_PARSENET", "").strip() or None)
    card, config = _read_card_and_config(folder / subfolder if subfolder else folder)
    config = config or dict(pipe.model.config)
    return pipe, ModelInfo(source, how, card, config, is_untrained(card))


# ---------------------------------------------------------------- degradation lab


@dataclass(frozen=True)
class SliderRanges:
    """Slider maxima, in pixels of the model's resolution (the paper's ranges, scaled like ``sample``)."""

    sigma: float
    motion: float
    scale: float


def slider_ranges(resolution: int) -> SliderRanges:
    p = PRESETS["paper"]
    ratio = resolution / p.reference_resolution
    return SliderRanges(
        sigma=max(round(p.sigma[1] * ratio, 1), 3.0),
        motion=max(round(p.motion_length[1] * ratio), 10.0),
        scale=max(round(p.scale[1] * ratio), 8.0),
    )


def lab_params(
    blur_kind: str,
    kernel_size: float,
    sigma: float,
    motion_length: float,
    motion_angle: float,
    scale: float,
    noise_sigma: float,
    jpeg_quality: float,
    seed: float,
) -> DegradationParams:
    """Widget values → ``DegradationParams`` (JPEG quality 0 = no JPEG)."""
    if blur_kind not in BLUR_KINDS:
        raise ValueError(f"blur kind must be one of {list(BLUR_KINDS)}, got {blur_kind!r}")
    kernel = int(kernel_size) | 1  # odd
    return DegradationParams(
        blur=BLUR_KINDS[blur_kind],
        kernel_size=kernel,
        sigma_x=float(sigma),
        sigma_y=float(sigma),
        motion_length=float(motion_length),
        motion_angle=float(motion_angle),
        scale=max(float(scale), 1.0),
        noise_sigma=float(noise_sigma),
        jpeg_quality=int(jpeg_quality) if jpeg_quality and jpeg_quality >= 1 else None,
        seed=int(seed),
    )


def random_lab_values(seed: int, resolution: int, ranges: SliderRanges) -> list[Any]:
    """Draw parameters as training does (``sample(seed, "paper", resolution)``) and express them as the lab's
    widget values: blur kind, kernel, σ, motion length, angle, s, noise σ, JPEG quality, seed.

    The lab's Gaussian is isotropic, so an anisotropic draw shows as its geometric-mean σ.
    """
    p = sample(int(seed), "paper", resolution)
    kind = {"none": "none", "iso": "Gaussian", "aniso": "Gaussian", "motion": "motion"}[p.blur]
    sigma = p.sigma_x if p.blur != "aniso" else math.sqrt(p.sigma_x * p.sigma_y)
    return [
        kind,
        p.kernel_size,
        round(min(sigma, ranges.sigma), 2),
        round(min(p.motion_length, ranges.motion), 1),
        round(p.motion_angle),
        round(min(p.scale, ranges.scale), 2),
        round(p.noise_sigma, 1),
        p.jpeg_quality or 0,
        int(seed),
    ]


def align_face(rgb: np.ndarray, pipe: GPENPipeline, already_aligned: bool) -> tuple[np.ndarray, str]:
    """The lab's HQ face: the largest detected face warped to the template, or the image itself if aligned."""
    if already_aligned:
        return resize_face(rgb, pipe.resolution), "used as an aligned face"
    dets = pipe.detector.detect(rgb)
    if len(dets) == 0:
        h, w = rgb.shape[:2]
        side = min(h, w)
        square = rgb[(h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side]
        return resize_face(square, pipe.resolution), "no face found: centre crop used as if aligned"
    best = int(np.argmax(dets.inter_ocular()))
    crop, _ = pipe.aligner.warp(rgb, dets.landmarks[best])
    return crop, f"{len(dets)} face(s) found; the largest was aligned"


def metric_rows(metrics: Any, hq: np.ndarray, degraded: np.ndarray, restored: np.ndarray) -> list[list[Any]]:
    """Rows of the lab's table: full-reference metrics of the degraded and restored faces against the HQ."""
    rows = []
    for name, image in (("degraded", degraded), ("restored", restored)):
        m = metrics(image, hq, metrics=("psnr", "ssim", "lpips", "identity"))
        rows.append(
            [name, round(m["psnr"], 2), round(m["ssim"], 4), round(m["lpips"], 4), round(m["identity"], 4)]
        )
    return rows
