"""Paste restored face crops back into the photo: crop-space masks warped back, band-split blend per face.

Each face's mask (:mod:`gpen_hf.faces.mask`; default the face region) and its restored crop are warped back with
the inverse of the face's alignment transform; so is the *input* crop, which makes the blend a change applied to
the photo (:func:`gpen_hf.faces.blend.band_split`): detail above the model's resolution, hair and background
stay the photo's. Faces are blended one after another.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gpen_hf.faces.align import FaceAligner, affine_scale, footprint, shift_affine
from gpen_hf.faces.blend import band_split, residual_noise_gain, signal_gate
from gpen_hf.faces.mask import face_region_mask, feather_mask

__all__ = ["feather_mask", "paste_faces"]


def paste_faces(
    image: np.ndarray,
    faces: Sequence[np.ndarray],
    matrices: Sequence[np.ndarray],
    aligner: FaceAligner,
    masks: Sequence[np.ndarray] | np.ndarray | None = None,
    crops: Sequence[np.ndarray] | None = None,
    alphas: Sequence[float] | None = None,
    noise: Sequence[float] | None = None,
    blocking: Sequence[float] | None = None,
) -> np.ndarray:
    """Blend ``faces`` (R×R×3 uint8 crops) into ``image`` (H×W×3 uint8) through their inverse warps.

    Args:
        image: the photo (already upscaled if the output is larger than the input).
        faces: restored crops, one per matrix.
        matrices: 2×3 transforms from ``image`` pixels to crop pixels.
        aligner: does the inverse warps (and their anti-aliasing).
        masks: crop-space masks, one per face or one for all; default :func:`face_region_mask`.
        crops: the input crops the faces were restored from. With them the blend is band-split (the photo's
            detail above the crop's resolution is kept where it is signal); without, the faces replace the photo
            inside the mask.
        alphas: per-face fidelity weights in [0, 1] (default 1).
        noise: per-face noise σ of the photo (0–255) for the signal gate (default 0: only the noise floor).
        blocking: per-face JPEG blocking part in [0, 1] (closes the gate; default 0).
    """
    if len(faces) != len(matrices) or (crops is not None and len(crops) != len(faces)):
        raise ValueError(f"got {len(faces)} faces for {len(matrices)} transforms"
                         + ("" if crops is None else f" and {len(crops)} input crops"))
    h, w = image.shape[:2]
    out = image.copy()
    for k, (face, matrix) in enumerate(zip(faces, matrices)):
        r = face.shape[0]
        if masks is None:
            crop_mask = face_region_mask(r)
        else:
            crop_mask = masks if isinstance(masks, np.ndarray) else masks[k]
        x0, y0, x1, y1 = footprint(matrix, r, (w, h))
        local = shift_affine(matrix, x0, y0)
        size = (x1 - x0, y1 - y0)
        region = out[y0:y1, x0:x1].astype(np.float32)
        back = aligner.inverse_warp(face.astype(np.float32), local, size).reshape(region.shape)
        alpha = aligner.inverse_warp(np.asarray(crop_mask, np.float32), local, size, cubic=False)
        weight = 1.0 if alphas is None else float(alphas[k])
        if crops is None:
            blended = band_split(region, back, region, alpha, weight, None)
        else:
            before = aligner.inverse_warp(crops[k].astype(np.float32), local, size).reshape(region.shape)
            gain = residual_noise_gain(round(affine_scale(matrix) * 20) / 20 or 0.05)
            gate = signal_gate(region - before, 0.0 if noise is None else noise[k], gain,
                               0.0 if blocking is None else blocking[k])
            blended = band_split(region, back, before, alpha, weight, gate)
        out[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out
