"""Input checking and conversion shared by the metrics."""

from __future__ import annotations

import numpy as np
import torch

ImageLike = np.ndarray | torch.Tensor


def to_float_tensor(img: ImageLike, name: str = "image") -> torch.Tensor:
    """Return a float32 ``(N, 3, H, W)`` tensor in [0, 1].

    Accepts a uint8 RGB ``(H, W, 3)`` numpy array, or a float tensor/array in [0, 1] shaped
    ``(3, H, W)`` or ``(N, 3, H, W)``.
    """
    if isinstance(img, np.ndarray):
        if img.dtype == np.uint8:
            if img.ndim != 3 or img.shape[2] != 3:
                raise ValueError(
                    f"{name}: expected a uint8 RGB image shaped (H, W, 3), got shape {img.shape}"
                )
            return torch.from_numpy(np.array(img, copy=True)).permute(2, 0, 1)[None].float() / 255.0
        if np.issubdtype(img.dtype, np.floating):
            img = torch.from_numpy(np.array(img, copy=True))
        else:
            raise ValueError(
                f"{name}: numpy images must be uint8 (H, W, 3) or float in [0, 1], got {img.dtype}"
            )
    if not isinstance(img, torch.Tensor):
        raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(img).__name__}")
    if not img.is_floating_point():
        raise ValueError(f"{name}: tensors must be float in [0, 1], got {img.dtype}")
    if img.ndim == 3:
        img = img[None]
    if img.ndim != 4 or img.shape[1] != 3:
        raise ValueError(
            f"{name}: expected a float tensor shaped (3, H, W) or (N, 3, H, W), got {tuple(img.shape)}"
        )
    if img.numel() and (img.min() < -1e-6 or img.max() > 1 + 1e-6):
        lo, hi = float(img.min()), float(img.max())
        raise ValueError(f"{name}: float images must lie in [0, 1] (got range {lo:.3g}..{hi:.3g})")
    return img.float()


def check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    """Raise ValueError unless two converted images have the same shape and are big enough."""
    if a.shape != b.shape:
        raise ValueError(f"restored and reference shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    if min(a.shape[-2:]) < 11:
        raise ValueError(f"images must be at least 11x11 pixels, got {tuple(a.shape[-2:])}")


def to_uint8_rgb(img: ImageLike, name: str = "image") -> np.ndarray:
    """Return one uint8 RGB ``(H, W, 3)`` array (float inputs in [0, 1] are rounded)."""
    if isinstance(img, np.ndarray) and img.dtype == np.uint8:
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"{name}: expected a uint8 RGB image shaped (H, W, 3), got shape {img.shape}")
        return img
    t = to_float_tensor(img, name)
    if t.shape[0] != 1:
        raise ValueError(f"{name}: expected a single image, got a batch of {t.shape[0]}")
    return (t[0].permute(1, 2, 0).clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()
