"""Full-reference fidelity metrics (PSNR, SSIM) through torchmetrics."""

from __future__ import annotations

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from ._image import ImageLike, check_pair, to_float_tensor

#: PSNR reported for identical images (PSNR is infinite there); 100 dB is the usual cap.
PSNR_CAP_DB = 100.0


def psnr(restored: ImageLike, reference: ImageLike, cap: float | None = PSNR_CAP_DB) -> float:
    """PSNR in dB on RGB in [0, 1] (data range 1), averaged over a batch.

    Identical images give ``cap`` (or ``inf`` if ``cap`` is None).
    """
    a, b = to_float_tensor(restored, "restored"), to_float_tensor(reference, "reference")
    check_pair(a, b)
    mse = torch.mean((a - b) ** 2, dim=(1, 2, 3))
    if bool((mse == 0).any()):
        vals = [
            (float("inf") if cap is None else cap)
            if m == 0
            else float(peak_signal_noise_ratio(a[i : i + 1], b[i : i + 1], data_range=1.0))
            for i, m in enumerate(mse.tolist())
        ]
        return float(sum(vals) / len(vals))
    out = peak_signal_noise_ratio(a, b, data_range=1.0, reduction="none", dim=(1, 2, 3))
    val = float(out.mean())
    return min(val, cap) if cap is not None else val


def ssim(restored: ImageLike, reference: ImageLike) -> float:
    """SSIM (Gaussian 11x11, sigma 1.5) on RGB in [0, 1], mean over channels and batch."""
    a, b = to_float_tensor(restored, "restored"), to_float_tensor(reference, "reference")
    check_pair(a, b)
    return float(structural_similarity_index_measure(a, b, data_range=1.0))
