"""Paste restored face crops back into the photo with a feathered mask, so no seam shows.

The mask lives in crop space: ones inside a margin, then a wide Gaussian roll-off to zero before the crop
border (where the crop holds reflected padding, not photo). It is warped back with the same inverse
transform as the face, and faces are blended one after another: ``out = out·(1 − m) + face·m``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

from gpen_hf.faces.align import FaceAligner, footprint, shift_affine


@lru_cache(maxsize=8)
def feather_mask(resolution: int, margin: float = 0.1, feather: float = 0.04) -> np.ndarray:
    """R×R float32 mask in [0, 1]: 1 in the middle, smooth fall-off to ~0 at the crop border.

    Args:
        resolution: crop size.
        margin: fraction of the crop on each side outside the hard rectangle.
        feather: Gaussian sigma of the roll-off, as a fraction of the crop.
    """
    mask = np.zeros((resolution, resolution), np.float32)
    inset = round(margin * resolution)
    mask[inset:resolution - inset, inset:resolution - inset] = 1.0
    sigma = max(feather * resolution, 0.5)
    mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)
    mask[[0, -1], :] = 0.0  # exactly zero on the crop border, where the warp meets the photo
    mask[:, [0, -1]] = 0.0
    mask.setflags(write=False)
    return mask


def paste_faces(
    image: np.ndarray,
    faces: Sequence[np.ndarray],
    matrices: Sequence[np.ndarray],
    aligner: FaceAligner,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Blend ``faces`` (R×R×3 uint8 crops) into ``image`` (H×W×3 uint8) through their inverse warps.

    Args:
        image: the photo (already upscaled if the output is larger than the input).
        faces: restored crops, one per matrix.
        matrices: 2×3 transforms from ``image`` pixels to crop pixels.
        aligner: does the inverse warps (and their anti-aliasing).
        mask: crop-space mask; default :func:`feather_mask` at the crop size.
    """
    if len(faces) != len(matrices):
        raise ValueError(f"got {len(faces)} faces for {len(matrices)} transforms")
    h, w = image.shape[:2]
    out = image.copy()
    for face, matrix in zip(faces, matrices):
        crop_mask = feather_mask(face.shape[0]) if mask is None else mask
        x0, y0, x1, y1 = footprint(matrix, face.shape[0], (w, h))
        local = shift_affine(matrix, x0, y0)
        back = aligner.inverse_warp(face.astype(np.float32), local, (x1 - x0, y1 - y0))
        alpha = aligner.inverse_warp(crop_mask, local, (x1 - x0, y1 - y0), cubic=False)
        region = out[y0:y1, x0:x1].astype(np.float32)
        blended = region * (1.0 - alpha[:, :, None]) + back.reshape(region.shape) * alpha[:, :, None]
        out[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out
