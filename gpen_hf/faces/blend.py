"""The maths of putting a restored face back: colour matching and the band-split blend.

A face crop holds only the frequencies that fit in R×R. Warped back over a face larger than R, the restored face
is smooth above the crop's Nyquist frequency mapped into the photo; the photo itself may hold real detail there.
So the blend works in the photo, per pixel, with P the photo, C the input crop and F the restored crop warped
back (both at the photo's size), H = P − C (what the crop could not hold: the photo's band above the model's
resolution) and m the warped mask, α the fidelity weight and g ∈ [0, 1] a gate saying whether H is signal::

    out = P + m·α·(F − C − (1 − g)·H)      i.e. inside the mask   α·(F + g·H) + (1 − α)·P

α = 0 or a model returning its input (F = C) with g = 1 give the photo back exactly; a model output without
fine detail keeps the photo's own fine detail where it is signal; where H is only noise or JPEG (g = 0) the
photo's high band is dropped with the rest of the degraded face. g compares H's local energy with the energy
the photo's measured noise would put in H (:func:`residual_noise_gain`), and is scaled down by JPEG blocking.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

#: local-energy ratios (H energy ÷ expected noise energy in H) where the gate starts to open and is fully open.
GATE_RATIOS = (2.0, 6.0)
#: the gate's noise floor (grey levels): quantisation and mild compression in any 8-bit photo.
NOISE_FLOOR = 1.0


def match_colour(restored: np.ndarray, reference: np.ndarray, weight: np.ndarray,
                 sigma: float = 0.1) -> np.ndarray:
    """Give ``restored`` (R×R×3 uint8) the low-frequency colour of ``reference`` inside ``weight``.

    The difference of the two is low-passed by a Gaussian of ``sigma`` × R, weighted by the mask (normalised
    convolution, so the background outside the face does not leak in) and added to ``restored``: overall tint
    and lighting come from the photo, features and detail from the model.
    """
    r = restored.shape[0]
    s = max(sigma * r, 1.0)
    w = np.asarray(weight, np.float32)[:, :, None]
    diff = reference.astype(np.float32) - restored.astype(np.float32)
    num = cv2.GaussianBlur(diff * w, (0, 0), s, borderType=cv2.BORDER_REFLECT)
    den = cv2.GaussianBlur(w, (0, 0), s, borderType=cv2.BORDER_REFLECT)
    den = den[:, :, None] if den.ndim == 2 else den
    low = num / np.maximum(den, 1e-3)
    return np.clip(np.rint(restored.astype(np.float32) + low), 0, 255).astype(np.uint8)


@lru_cache(maxsize=64)
def residual_noise_gain(scale: float) -> float:
    """Share of white noise's variance that lands in H = P − C for a crop at ``scale`` crop px per photo px.

    Measured by sending a noise image through the same resampling (area shrink + bilinear to the crop, Gaussian
    anti-aliasing + bicubic back); cached per scale (rounded to 0.05 by the caller).
    """
    from gpen_hf.faces.align import FaceAligner  # the aligner does the real warps

    size = 96
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((size, size)).astype(np.float32)
    crop_size = max(4, round(size * scale))
    aligner = FaceAligner(crop_size, template=np.zeros((5, 2)) + 1)  # template unused by the warps below
    matrix = np.array([[scale, 0, 0], [0, scale, 0]], np.float64)
    source, local = noise, matrix
    if scale < aligner.antialias_below:
        factor = min(1.0, 1.05 * scale)
        small = max(1, round(size * factor))
        source = cv2.resize(noise, (small, small), interpolation=cv2.INTER_AREA)
        local = matrix @ np.diag([size / small, size / small, 1.0])
    crop = cv2.warpAffine(source, local, (crop_size, crop_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
    back = aligner.inverse_warp(crop, matrix, (size, size))
    inner = slice(8, size - 8)
    return float(np.var((noise - back)[inner, inner]))


def signal_gate(residual: np.ndarray, noise_sigma: float, gain: float, blocking_part: float = 0.0,
                radius: float = 1.5) -> np.ndarray:
    """Per-pixel gate in [0, 1]: 1 where the photo's high band ``residual`` (H×W×3 float) is signal.

    Its local energy (luma, Gaussian of ``radius`` px) is compared with ``gain`` × σ², σ the photo's noise
    (at least :data:`NOISE_FLOOR`); ``blocking_part`` ∈ [0, 1] (how JPEG-blocked the face is) closes it further.
    """
    luma = residual @ np.array([0.299, 0.587, 0.114], np.float32) if residual.ndim == 3 else residual
    energy = cv2.GaussianBlur(luma * luma, (0, 0), radius)
    expected = max(gain, 0.05) * max(noise_sigma, NOISE_FLOOR) ** 2
    lo, hi = GATE_RATIOS
    gate = np.clip((energy / expected - lo) / (hi - lo), 0.0, 1.0)
    return gate * (1.0 - float(np.clip(blocking_part, 0.0, 1.0)))


def band_split(photo: np.ndarray, restored: np.ndarray, crop: np.ndarray, mask: np.ndarray, alpha: float,
               gate: np.ndarray | None) -> np.ndarray:
    """``P + m·α·(F − C − (1 − g)·H)`` on one region (all float32, the same H×W(×3)); see the module doc."""
    m = (alpha * mask)[:, :, None]
    change = restored - crop
    if gate is not None:
        change = change - (1.0 - gate[:, :, None]) * (photo - crop)
    return photo + m * change
