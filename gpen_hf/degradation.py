"""Synthetic degradation of the GPEN paper (section 3.3): LQ = JPEG_q((HQ ⊗ k)↓s + n_σ), then ↑s.

``sample(rng, preset, resolution)`` draws a :class:`DegradationParams`; ``degrade(image, params)`` applies it
to one RGB ``uint8`` H×W×3 image and is deterministic (same params, same seed → byte-identical LQ);
``degrade_batch`` does the same for a torch batch, for training loops. Two presets:

* ``paper``: blur none / isotropic / anisotropic Gaussian / motion with several kernel sizes, downsampling
  s ∈ [10, 200] on a 1024-px face (so LQ faces of about 100 down to 5 pixels, at any resolution), noise
  σ ∈ [0, 25], JPEG q ∈ [5, 50];
* ``gfpgan``: iso/aniso Gaussian σ ∈ [0.1, 10] (41×41 kernel), s ∈ [0.8, 8] on 512 px, noise σ ∈ [0, 20],
  JPEG q ∈ [60, 100], grayscale with probability 0.01 and horizontal flips with probability 0.5.

Blur sizes and downsampling factors are given for a reference resolution and scaled to the one asked for,
so a 64-px training run sees the same LQ face sizes as a 1024-px one (s is clamped at 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np

from gpen_hf.kernels import gaussian_kernel, motion_kernel

if TYPE_CHECKING:
    import torch

BLUR_TYPES = ("none", "iso", "aniso", "motion")
UPSAMPLE_FILTERS = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}


@dataclass(frozen=True)
class DegradationParams:
    """One draw of the degradation; all sizes are in pixels of the image it is applied to.

    Attributes:
        blur: ``"none"``, ``"iso"``, ``"aniso"`` (Gaussian) or ``"motion"``.
        kernel_size: odd kernel width for Gaussian blur (motion kernels size themselves).
        sigma_x, sigma_y, theta: Gaussian standard deviations and axis rotation (radians); iso uses sigma_x.
        motion_length, motion_angle: motion blur line length (px) and angle (degrees, 0 = horizontal).
        scale: downsampling factor s (> 1 shrinks; values in (0, 1) enlarge, as GFPGAN's 0.8 does).
        noise_sigma: std of additive Gaussian noise on the 0–255 scale, at the downsampled size.
        jpeg_quality: JPEG quality 1–100, or ``None`` for no compression.
        grayscale: convert the LQ to gray (3 equal channels).
        flip: mirror left/right (apply to the target too: see ``degrade_pair``).
        upsample: resize the LQ back to the input size (what the model sees) instead of returning it small.
        upsample_filter: ``"linear"`` (training's default) or ``"cubic"`` for that resize.
        seed: seed of the noise generator; the only random part of ``degrade``.
    """

    blur: str = "none"
    kernel_size: int = 21
    sigma_x: float = 0.0
    sigma_y: float = 0.0
    theta: float = 0.0
    motion_length: float = 0.0
    motion_angle: float = 0.0
    scale: float = 1.0
    noise_sigma: float = 0.0
    jpeg_quality: int | None = None
    grayscale: bool = False
    flip: bool = False
    upsample: bool = True
    upsample_filter: str = "linear"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.blur not in BLUR_TYPES:
            raise ValueError(f"blur must be one of {BLUR_TYPES}, got {self.blur!r}")
        if self.scale <= 0:
            raise ValueError(f"scale must be > 0, got {self.scale}")
        if self.noise_sigma < 0:
            raise ValueError(f"noise_sigma must be >= 0, got {self.noise_sigma}")
        if self.upsample_filter not in UPSAMPLE_FILTERS:
            raise ValueError(f"upsample_filter must be one of {sorted(UPSAMPLE_FILTERS)}, got {self.upsample_filter!r}")
        if self.jpeg_quality is not None and not 1 <= int(self.jpeg_quality) <= 100:
            raise ValueError(f"jpeg_quality must be in [1, 100] or None, got {self.jpeg_quality}")

    def kernel(self) -> np.ndarray | None:
        """The blur kernel these parameters describe, or ``None`` for no blur."""
        if self.blur == "iso" and self.sigma_x > 0:
            return gaussian_kernel(self.kernel_size, self.sigma_x)
        if self.blur == "aniso" and self.sigma_x > 0:
            return gaussian_kernel(self.kernel_size, self.sigma_x, self.sigma_y or self.sigma_x, self.theta)
        if self.blur == "motion" and self.motion_length > 1:
            return motion_kernel(self.motion_length, self.motion_angle)
        return None

    def to_dict(self) -> dict:
        """Plain dict (JSON-friendly) of the parameters, e.g. to log what a sample was."""
        return asdict(self)


@dataclass(frozen=True)
class Preset:
    """Ranges ``sample`` draws from; pixel sizes are for ``reference_resolution``."""

    reference_resolution: int
    blur_probs: dict[str, float]
    kernel_sizes: tuple[int, ...]
    sigma: tuple[float, float]
    motion_length: tuple[float, float]
    scale: tuple[float, float]
    scale_log_uniform: bool
    noise: tuple[float, float]
    jpeg: tuple[int, int]
    grayscale_prob: float
    flip_prob: float


PRESETS: dict[str, Preset] = {
    "paper": Preset(
        reference_resolution=1024,
        blur_probs={"none": 0.1, "iso": 0.35, "aniso": 0.35, "motion": 0.2},
        kernel_sizes=tuple(range(7, 42, 2)),
        sigma=(0.2, 10.0),
        motion_length=(3.0, 40.0),
        scale=(10.0, 200.0),
        scale_log_uniform=True,  # uniform would make 9 draws in 10 smaller than 20 px
        noise=(0.0, 25.0),
        jpeg=(5, 50),
        grayscale_prob=0.0,
        flip_prob=0.0,
    ),
    "gfpgan": Preset(
        reference_resolution=512,
        blur_probs={"iso": 0.5, "aniso": 0.5},
        kernel_sizes=(41,),
        sigma=(0.1, 10.0),
        motion_length=(0.0, 0.0),
        scale=(0.8, 8.0),
        scale_log_uniform=False,
        noise=(0.0, 20.0),
        jpeg=(60, 100),
        grayscale_prob=0.01,
        flip_prob=0.5,
    ),
}


#: Fixed evaluation degradations, defined at 128 px (issue #20): Gaussian blur sigma, area downscale factor,
#: noise sigma (0-255), JPEG quality; bicubic back to the face size. Blur scales with the face size.
FIXED_DEGRADATIONS: dict[str, dict[str, float]] = {
    "moderate": {"sigma": 1.5, "scale": 4, "noise": 8, "jpeg": 40},
    "severe": {"sigma": 3.0, "scale": 8, "noise": 12, "jpeg": 25},
    "clean": {"sigma": 0.0, "scale": 1, "noise": 0, "jpeg": 0},
}
FIXED_REFERENCE_RESOLUTION = 128


def fixed_degradation(name: str, resolution: int, seed: int = 0) -> DegradationParams:
    """One of :data:`FIXED_DEGRADATIONS` for a face of ``resolution`` px; ``"srN"`` is pure ×N downsampling
    (the paper's face super-resolution task); ``"clean"`` is the identity (a restorer should leave a clean face
    as it is). ``seed`` only draws the noise."""
    ratio = resolution / FIXED_REFERENCE_RESOLUTION
    if name.startswith("sr") and name[2:].isdigit() and int(name[2:]) > 1:
        return DegradationParams(scale=float(name[2:]), upsample_filter="cubic", seed=seed)
    if name not in FIXED_DEGRADATIONS:
        raise ValueError(f"unknown fixed degradation {name!r}; choose from {sorted(FIXED_DEGRADATIONS)} or srN")
    d = FIXED_DEGRADATIONS[name]
    sigma = d["sigma"] * ratio
    return DegradationParams(blur="iso" if sigma > 0 else "none", kernel_size=2 * math.ceil(3 * sigma) + 1,
                             sigma_x=sigma, sigma_y=sigma, scale=float(d["scale"]), noise_sigma=float(d["noise"]),
                             jpeg_quality=int(d["jpeg"]) or None, upsample_filter="cubic", seed=seed)


def sample(
    rng: np.random.Generator | int | None = None,
    preset: str = "paper",
    resolution: int = 512,
    grayscale_prob: float | None = None,
    flip_prob: float | None = None,
) -> DegradationParams:
    """Draw degradation parameters for a training face of ``resolution`` pixels.

    Args:
        rng: a numpy Generator (or a seed) — the only source of randomness, for reproducible runs.
        preset: ``"paper"`` or ``"gfpgan"`` (see the module docstring).
        resolution: size of the HQ face the parameters will be applied to.
        grayscale_prob, flip_prob: override the preset's probabilities.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    p = PRESETS[preset]
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    ratio = resolution / p.reference_resolution

    names = list(p.blur_probs)
    blur = names[rng.choice(len(names), p=np.array([p.blur_probs[n] for n in names]))]
    sigma_x, sigma_y = (float(rng.uniform(*p.sigma)) * ratio for _ in range(2))
    lo, hi = p.scale
    raw_scale = math.exp(rng.uniform(math.log(lo), math.log(hi))) if p.scale_log_uniform else rng.uniform(lo, hi)
    # s < 1 (GFPGAN's enlargement) is kept as is; s >= 1 keeps the LQ face size of the reference resolution.
    scale = float(raw_scale) if raw_scale < 1 else max(float(raw_scale) * ratio, 1.0)
    jpeg = int(rng.integers(p.jpeg[0], p.jpeg[1] + 1))
    return DegradationParams(
        blur=blur,
        kernel_size=int(rng.choice(p.kernel_sizes)),
        sigma_x=sigma_x,
        sigma_y=sigma_y if blur == "aniso" else sigma_x,
        theta=float(rng.uniform(0, math.pi)),
        motion_length=float(rng.uniform(*p.motion_length)) * ratio,
        motion_angle=float(rng.uniform(0, 180)),
        scale=scale,
        noise_sigma=float(rng.uniform(*p.noise)),
        jpeg_quality=jpeg,
        grayscale=bool(rng.random() < (p.grayscale_prob if grayscale_prob is None else grayscale_prob)),
        flip=bool(rng.random() < (p.flip_prob if flip_prob is None else flip_prob)),
        seed=int(rng.integers(0, 2**31 - 1)),
    )


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ValueError(f"degrade expects an RGB uint8 H×W×3 numpy array, got {type(image).__name__} {shape}")
    return image


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round trip through OpenCV (libjpeg is deterministic for the same input and quality)."""
    ok, data = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1]


def degrade(image: np.ndarray, params: DegradationParams) -> np.ndarray:
    """Apply ``params`` to an RGB ``uint8`` H×W×3 image and return the LQ image (uint8).

    Order as in the paper: flip → blur → downsample by s → add noise → JPEG → (grayscale) → upsample back.
    The output has the input's size unless ``params.upsample`` is False.
    """
    image = _check_image(image)
    h, w = image.shape[:2]
    out = image[:, ::-1] if params.flip else image
    kernel = params.kernel()
    work = out.astype(np.float32)
    if kernel is not None:
        work = cv2.filter2D(work, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    if params.scale != 1.0:
        size = (max(1, round(w / params.scale)), max(1, round(h / params.scale)))
        interp = cv2.INTER_AREA if params.scale > 1 else cv2.INTER_LINEAR
        work = cv2.resize(work, size, interpolation=interp)
        if work.ndim == 2:
            work = work[:, :, None]
    if params.noise_sigma > 0:
        noise = np.random.default_rng(params.seed).normal(0.0, params.noise_sigma, work.shape)
        work = work + noise.astype(np.float32)
    lq = np.clip(np.rint(work), 0, 255).astype(np.uint8)
    if params.jpeg_quality is not None:
        lq = _jpeg(lq, params.jpeg_quality)
    if params.grayscale:
        lq = np.repeat(cv2.cvtColor(lq, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    if params.upsample and lq.shape[:2] != (h, w):
        lq = cv2.resize(lq, (w, h), interpolation=UPSAMPLE_FILTERS[params.upsample_filter])
    return np.ascontiguousarray(lq)


def degrade_pair(image: np.ndarray, params: DegradationParams) -> tuple[np.ndarray, np.ndarray]:
    """``(target, lq)``: the HQ image with the same flip as the LQ, and the LQ itself."""
    target = np.ascontiguousarray(image[:, ::-1]) if params.flip else image
    return target, degrade(image, params)


class DegradedBatch(NamedTuple):
    """Result of :func:`degrade_batch`: targets (flipped like the LQ), LQ inputs, and the parameters used."""

    target: torch.Tensor
    lq: torch.Tensor
    params: list[DegradationParams]


def degrade_batch(
    images: torch.Tensor,
    params: Sequence[DegradationParams] | None = None,
    *,
    rng: np.random.Generator | int | None = None,
    preset: str = "paper",
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> DegradedBatch:
    """Degrade an N×3×H×W float batch (values in ``value_range``), one draw per image unless ``params``.

    Runs on the CPU through :func:`degrade` (so results match the numpy path exactly, up to uint8
    quantisation of the input) and returns tensors on the input's device and dtype.
    """
    import torch

    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"degrade_batch expects N×3×H×W, got {tuple(images.shape)}")
    lo, hi = value_range
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if params is None:
        params = [sample(rng, preset, resolution=int(images.shape[-1])) for _ in range(images.shape[0])]
    if len(params) != images.shape[0]:
        raise ValueError(f"got {len(params)} params for a batch of {images.shape[0]}")
    as_u8 = ((images.detach().float().cpu() - lo) / (hi - lo) * 255).round().clamp(0, 255).to(torch.uint8)
    as_u8 = as_u8.permute(0, 2, 3, 1).numpy()
    targets, lqs = zip(*(degrade_pair(img, p) for img, p in zip(as_u8, params)))

    def back(arrays: Sequence[np.ndarray]) -> torch.Tensor:
        t = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255 * (hi - lo) + lo
        return t.to(device=images.device, dtype=images.dtype)

    return DegradedBatch(back(targets), back(lqs), list(params))


def with_overrides(params: DegradationParams, **changes: object) -> DegradationParams:
    """Copy of ``params`` with some fields replaced (``None`` values are ignored), e.g. for the CLI."""
    return replace(params, **{k: v for k, v in changes.items() if v is not None})
