"""Soft paste-back masks from face-parsing logits (ParseNet's 19 CelebAMask-HQ classes).

The authors' paste-back (yangxy/GPEN ``face_enhancement.py``) parses the restored 512-px face, maps each
pixel's class to 0 or 1 with a fixed table, zeroes a 20-px frame and blurs twice with a 101×101 Gaussian
(σ 11). Here the same recipe runs at any crop size S, frame and blur scaled by S / 512, so the mask looks the
same at every size. Pure numpy/OpenCV: the logits come from whatever ran the network, as the authors do it::

    parser = ParseNet.from_original_checkpoint("ParseNet-latest.pth")
    x = F.interpolate(restored_faces, size=parser.config.in_size, mode="bilinear")  # RGB in [-1, 1]
    masks = face_mask_from_parsing(parser(x).parsing_logits)  # (N, 512, 512): resize to the crop size
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch

# Class index → name, as the authors list them (CelebAMask-HQ order).
PARSING_CLASSES = (
    "background",  # 0
    "skin",        # 1  face skin, forehead to chin
    "nose",        # 2
    "eye_g",       # 3  eyeglasses
    "l_eye",       # 4
    "r_eye",       # 5
    "l_brow",      # 6
    "r_brow",      # 7
    "l_ear",       # 8
    "r_ear",       # 9
    "mouth",       # 10 inner mouth, teeth
    "u_lip",       # 11
    "l_lip",       # 12
    "hair",        # 13
    "hat",         # 14
    "ear_r",       # 15 earring
    "neck_l",      # 16 necklace
    "neck",        # 17
    "cloth",       # 18
)

# The authors' MASK_COLORMAP / 255: all but background, hat and cloth is pasted (hair and neck included).
PASTE_MASK_VALUES = tuple(0.0 if name in ("background", "hat", "cloth") else 1.0 for name in PARSING_CLASSES)

# The face itself (skin, features, glasses, lips): hair, ears, neck and accessories keep the photo's pixels.
_NOT_FACE = ("background", "l_ear", "r_ear", "hair", "hat", "ear_r", "neck_l", "neck", "cloth")
FACE_ONLY_MASK_VALUES = tuple(0.0 if name in _NOT_FACE else 1.0 for name in PARSING_CLASSES)

_REFERENCE_SIZE = 512  # the authors' frame (20 px) and blur (101×101, σ 11, twice) are for 512-px faces


def face_mask_from_parsing(logits: torch.Tensor | np.ndarray,
                           values: Sequence[float] = PASTE_MASK_VALUES) -> np.ndarray:
    """Soft paste-back masks from parsing logits, the authors' recipe scaled to the crop size.

    Args:
        logits: (N, C, S, S) class scores (ParseNet's ``parsing_logits``); only their argmax is used.
        values: mask value of each of the C classes (default: the authors' table, :data:`PASTE_MASK_VALUES`;
            :data:`FACE_ONLY_MASK_VALUES` keeps hair, ears and neck out).

    Returns:
        (N, S, S) float32 in [0, 1]: the class values, a frame of 20·S/512 px set to 0, then two Gaussian
        blurs of σ 11·S/512 (kernel 101·S/512).
    """
    if logits.ndim != 4 or logits.shape[2] != logits.shape[3]:
        raise ValueError(f"expected parsing logits of shape (N, C, S, S), got {tuple(logits.shape)}")
    if logits.shape[1] != len(values):
        raise ValueError(f"logits have {logits.shape[1]} classes but {len(values)} mask values were given")
    if hasattr(logits, "detach"):  # a torch tensor, wherever it lives: argmax there, copy only the labels
        labels = logits.detach().argmax(dim=1).cpu().numpy()
    else:
        labels = np.asarray(logits).argmax(axis=1)
    table = np.asarray(values, np.float32)
    if table.min() < 0 or table.max() > 1:
        raise ValueError(f"mask values must lie in [0, 1], got {list(values)}")
    size = labels.shape[-1]
    scale = size / _REFERENCE_SIZE
    frame = round(20 * scale)
    ksize = 2 * round(50 * scale) + 1
    sigma = 11 * scale
    masks = table[labels]
    for mask in masks:
        if frame:
            mask[:frame], mask[-frame:], mask[:, :frame], mask[:, -frame:] = 0, 0, 0, 0
        for _ in range(2):
            mask[:] = cv2.GaussianBlur(mask, (ksize, ksize), sigma)
    return np.clip(masks, 0.0, 1.0)
