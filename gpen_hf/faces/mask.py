"""Crop-space paste masks: where a restored face replaces the photo.

All masks live in the aligned crop's coordinates and are warped back with the face, so they follow its pose
and scale, and their feathering (a fraction of the crop) is proportional to the face's size in the photo: no
seam shows at any size. Kinds:

* ``"face"`` (default): the face itself, brows to chin and cheek to cheek, an egg-shaped region placed from
  the 5-point template, so hair, ears, neck and background keep the photo's pixels;
* ``"square"``: the crop minus a margin (the paste-back of GPEN's and GFPGAN's first releases);
* ``"parsing"``: a per-face mask from a face-parsing network (skin, brows, eyes, nose, mouth, lips), made by
  the pipeline, which owns the network; :func:`feather_parsing_mask` softens it the same way.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal, get_args

import cv2
import numpy as np

from gpen_hf.faces.align import FFHQ_TEMPLATE_512

MaskKind = Literal["face", "parsing", "square"]
MASK_KINDS: tuple[str, ...] = get_args(MaskKind)
#: Gaussian feather sigma of the face masks, as a fraction of the crop.
FACE_FEATHER = 0.03


@lru_cache(maxsize=8)
def feather_mask(resolution: int, margin: float = 0.1, feather: float = 0.04) -> np.ndarray:
    """R×R float32 ``"square"`` mask in [0, 1]: 1 in the middle, smooth fall-off to ~0 at the crop border.

    Args:
        resolution: crop size.
        margin: fraction of the crop on each side outside the hard rectangle.
        feather: Gaussian sigma of the roll-off, as a fraction of the crop.
    """
    mask = np.zeros((resolution, resolution), np.float32)
    inset = round(margin * resolution)
    mask[inset:resolution - inset, inset:resolution - inset] = 1.0
    return _soften(mask, feather * resolution)


def _soften(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian feather, exactly zero on the crop border (where the warp meets the photo), read-only."""
    sigma = max(sigma, 0.5)
    mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)
    mask = np.clip(mask, 0.0, 1.0)
    mask[[0, -1], :] = 0.0
    mask[:, [0, -1]] = 0.0
    mask.setflags(write=False)
    return mask


def face_region_polygon(template: np.ndarray, points: int = 64) -> np.ndarray:
    """The face outline (N×2, crop pixels) for 5-point ``template`` landmarks: brows to chin, cheek to cheek.

    Built from the landmarks, not from fixed pixels, so any template (and resolution) gets its own: centred
    between the eyes and the mouth, half-width 1.1 inter-ocular distances, from 0.55 of it above the eyes
    (the brows) to 0.75 below the mouth corners (the chin); the lower half narrows towards the chin.
    """
    t = np.asarray(template, np.float64).reshape(5, 2)
    eyes, mouth = t[:2].mean(axis=0), t[3:].mean(axis=0)
    iod = float(np.linalg.norm(t[1] - t[0]))
    down = (mouth - eyes) / max(np.linalg.norm(mouth - eyes), 1e-6)  # face's vertical axis
    right = np.array([-down[1], down[0]])
    if np.dot(right, t[1] - t[0]) < 0:
        right = -right
    top, bottom = -0.55 * iod, float(np.linalg.norm(mouth - eyes)) + 0.75 * iod
    centre_v, half_h, half_w = (top + bottom) / 2, (bottom - top) / 2, 1.1 * iod
    angle = np.linspace(0, 2 * np.pi, points, endpoint=False)
    v = np.sin(angle)  # +1 = chin
    u = np.cos(angle) * (1.0 - 0.18 * np.clip(v, 0, None) ** 2)  # egg: narrower towards the chin
    pts = eyes + np.outer(centre_v + half_h * v, down) + np.outer(half_w * u, right)
    return pts.astype(np.float32)


@lru_cache(maxsize=8)
def face_region_mask(resolution: int, feather: float = FACE_FEATHER) -> np.ndarray:
    """R×R float32 ``"face"`` mask for the FFHQ template at ``resolution`` (read-only, cached).

    The outline is the mask's 0.5 contour; it falls to ~0 two feather sigmas outside it (6 % of the crop).
    """
    template = FFHQ_TEMPLATE_512 * (resolution / 512.0)
    poly = face_region_polygon(template)
    mask = np.zeros((resolution, resolution), np.float32)
    scale = 16  # sub-pixel polygon edges (fixed-point coordinates)
    cv2.fillPoly(mask, [np.rint(poly * scale).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
    return _soften(mask, feather * resolution)


def feather_parsing_mask(mask: np.ndarray, feather: float = FACE_FEATHER) -> np.ndarray:
    """Soften a hard R×R face-parsing mask (float in [0, 1]) like :func:`face_region_mask`: erode by one
    sigma, then blur, so the transition lies inside the parsed face and not on the hair."""
    mask = np.asarray(mask, np.float32)
    if mask.ndim != 2 or mask.shape[0] != mask.shape[1]:
        raise ValueError(f"a parsing mask must be a square R×R array, got shape {mask.shape}")
    sigma = feather * mask.shape[0]
    k = max(1, round(sigma))
    eroded = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    return _soften(eroded, sigma)


def crop_mask(kind: str, resolution: int) -> np.ndarray:
    """The fixed (per-resolution) mask of ``kind`` ``"face"`` or ``"square"``."""
    if kind == "face":
        return face_region_mask(resolution)
    if kind == "square":
        return feather_mask(resolution)
    if kind == "parsing":
        raise ValueError("a 'parsing' mask is made per face by the pipeline's face-parsing model")
    raise ValueError(f"mask must be one of {MASK_KINDS}, got {kind!r}")
