"""NIQE (Mittal et al., "Making a completely blind image quality analyzer", 2013), no-reference.

MATLAB-compatible: Y channel of MATLAB's ``rgb2ycbcr`` rounded to integers, 96x96 blocks without overlap,
two scales (the second from MATLAB ``imresize(..., 0.5)`` bicubic with antialiasing), the official
pristine model (``gpen_hf/assets/niqe_pris_params.npz``, from basicsr 1.4.2). Lower is better.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ._image import ImageLike, to_uint8_rgb

PARAMS = Path(__file__).resolve().parent.parent / "assets" / "niqe_pris_params.npz"
BLOCK = 96

_gamma = math.gamma
_GAM = np.arange(0.2, 10.001, 0.001)
_R_GAM = np.array([_gamma(2 / g) ** 2 / (_gamma(1 / g) * _gamma(3 / g)) for g in _GAM])


@lru_cache(maxsize=1)
def _pristine() -> tuple[np.ndarray, np.ndarray]:
    if not PARAMS.is_file():
        raise FileNotFoundError(f"NIQE parameters not found at {PARAMS} (run scripts/convert_niqe_params.py)")
    with np.load(PARAMS, allow_pickle=False) as d:
        return d["mu_pris_param"].reshape(-1), d["cov_pris_param"]


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    """MATLAB ``fspecial('gaussian', 7, 7/6)``."""
    x = np.arange(-3, 4, dtype=np.float64)
    w = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * (7 / 6) ** 2))
    return w / w.sum()


def _cubic(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    near = (1.5 * a**3 - 2.5 * a**2 + 1) * (a <= 1)
    return near + (-0.5 * a**3 + 2.5 * a**2 - 4 * a + 2) * ((a > 1) & (a <= 2))


def _resize_matrix(n_in: int, scale: float) -> np.ndarray:
    """Row-resampling matrix of MATLAB ``imresize`` (bicubic, antialiased, symmetric borders)."""
    n_out = math.ceil(n_in * scale)
    kw = 4.0 / scale if scale < 1 else 4.0
    u = np.arange(1, n_out + 1) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kw / 2)
    idx = left[:, None] + np.arange(math.ceil(kw) + 2)[None, :]
    dist = u[:, None] - idx
    w = scale * _cubic(dist * scale) if scale < 1 else _cubic(dist)
    w /= w.sum(axis=1, keepdims=True)
    # 1-based index -> 0-based with symmetric (edge-including) mirroring
    j = idx.astype(np.int64) - 1
    period = 2 * n_in
    j = np.mod(j, period)
    j = np.where(j >= n_in, period - 1 - j, j)
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.repeat(np.arange(n_out), j.shape[1]), j.ravel()), w.ravel())
    return m


def imresize_half(img: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(img, 0.5)`` (bicubic, antialiasing) of a 2-D float image."""
    return _resize_matrix(img.shape[0], 0.5) @ img @ _resize_matrix(img.shape[1], 0.5).T


def _aggd(x: np.ndarray) -> tuple[float, float, float]:
    """Asymmetric generalised Gaussian fit (moment matching): alpha, beta_left, beta_right."""
    x = x.ravel()
    left = np.sqrt(np.mean(x[x < 0] ** 2))
    right = np.sqrt(np.mean(x[x > 0] ** 2))
    g = left / right
    r = np.mean(np.abs(x)) ** 2 / np.mean(x**2)
    rn = r * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    alpha = _GAM[np.argmin((_R_GAM - rn) ** 2)]
    k = np.sqrt(_gamma(1 / alpha) / _gamma(3 / alpha))
    return float(alpha), float(left * k), float(right * k)


def _block_features(block: np.ndarray) -> list[float]:
    alpha, bl, br = _aggd(block)
    feats = [alpha, (bl + br) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a, bl, br = _aggd(block * np.roll(block, shift, axis=(0, 1)))
        mean = (br - bl) * _gamma(2 / a) / _gamma(1 / a)
        feats += [a, mean, bl, br]
    return feats


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` luma in [16, 235] (float64, not rounded) of a uint8 RGB image."""
    x = img.astype(np.float32) / 255.0
    return (x @ np.array([65.481, 128.553, 24.966]) + 16.0) / 255.0 * 255.0


def niqe_y(y: np.ndarray) -> float:
    """NIQE of a 2-D luma image in [0, 255] (already rounded if MATLAB parity is wanted)."""
    h, w = y.shape
    nh, nw = h // BLOCK, w // BLOCK
    if nh < 1 or nw < 1:
        raise ValueError(f"NIQE needs an image of at least {BLOCK}x{BLOCK} pixels, got {h}x{w}")
    if nh * nw < 2:
        raise ValueError(f"NIQE needs at least two {BLOCK}x{BLOCK} blocks (e.g. 192x96), got {h}x{w}")
    img = y[: nh * BLOCK, : nw * BLOCK].astype(np.float64)
    win = _window()
    per_scale = []
    for scale in (1, 2):
        mu = cv2.filter2D(img, cv2.CV_64F, win, borderType=cv2.BORDER_REPLICATE)
        var = cv2.filter2D(img * img, cv2.CV_64F, win, borderType=cv2.BORDER_REPLICATE) - mu * mu
        norm = (img - mu) / (np.sqrt(np.abs(var)) + 1)
        b = BLOCK // scale
        blocks = [norm[i * b : (i + 1) * b, j * b : (j + 1) * b] for j in range(nw) for i in range(nh)]
        per_scale.append(np.array([_block_features(blk) for blk in blocks]))
        if scale == 1:
            img = imresize_half(img / 255.0) * 255.0
    feats = np.concatenate(per_scale, axis=1)
    mu_d = np.nanmean(feats, axis=0)
    cov_d = np.cov(feats[~np.isnan(feats).any(axis=1)], rowvar=False)
    mu_p, cov_p = _pristine()
    diff = mu_p - mu_d
    return float(np.sqrt(diff @ np.linalg.pinv((cov_p + cov_d) / 2) @ diff))


def niqe(img: ImageLike, crop_border: int = 0) -> float:
    """NIQE of a uint8 RGB ``(H, W, 3)`` image (or float [0, 1]); lower is better. Needs >= 192x96 px."""
    rgb = to_uint8_rgb(img, "image")
    y = np.round(rgb_to_y(rgb))
    if crop_border:
        y = y[crop_border:-crop_border, crop_border:-crop_border]
    return niqe_y(y)
