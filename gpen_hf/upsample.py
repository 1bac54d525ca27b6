"""Background upsamplers: ``f(image, factor) -> image`` for the parts of a photo that are not faces.

``lanczos_upsample`` is the default (no weights). ``"realesrnet-x2"`` is the authors' Real-ESRNet ×2 (an
:class:`~gpen_hf.models.rrdbnet.RRDBNet`), fetched by name and run in overlapping tiles so that memory stays
under a bound whatever the photo size; each tile's border (``overlap`` input pixels) is computed and thrown
away, so the seams match one untiled pass (within 2 grey levels at the default overlap, tested).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np
import torch

from .models.rrdbnet import RRDBNet

__all__ = ["DEFAULT_OVERLAP", "RealESRNetUpsampler", "Upsampler", "get_upsampler", "lanczos_upsample",
           "tile_for_budget", "upsample_tiled"]

Upsampler = Callable[[np.ndarray, float], np.ndarray]
#: input pixels of context computed around each tile and dropped
DEFAULT_OVERLAP = 16
#: memory allowed for one tile's activations (MiB)
DEFAULT_TILE_BUDGET_MB = 1024.0


def lanczos_upsample(image: np.ndarray, factor: float) -> np.ndarray:
    """Resize an image (any channel count) by ``factor`` with Lanczos; the default background upsampler."""
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    if size == (w, h):
        return image.copy()
    interp = cv2.INTER_LANCZOS4 if factor > 1 else cv2.INTER_AREA
    return cv2.resize(image, size, interpolation=interp)


def tile_for_budget(net: RRDBNet, memory_budget_mb: float) -> int:
    """Largest tile side (input pixels, a multiple of 8) whose activations fit ``memory_budget_mb``.

    Estimate: the last stages run at the output size with ``num_feat`` channels and hold ~3 such float32
    tensors at once (upsampled input, convolution output, activation), which dominates the body's cost.
    """
    bytes_per_pixel = 3 * 4 * net.config.scale**2 * net.config.num_feat
    side = math.isqrt(int(memory_budget_mb * 2**20 / bytes_per_pixel))
    return max(8, side // 8 * 8)


@torch.no_grad()
def upsample_tiled(net: RRDBNet, image: np.ndarray, tile: int, overlap: int = DEFAULT_OVERLAP) -> np.ndarray:
    """Run ``net`` on an H×W×3 uint8 RGB image in ``tile``×``tile`` pieces with ``overlap`` pixels of context;
    returns the (H·scale)×(W·scale)×3 uint8 result. Tile corners sit on the network's pixel-unshuffle grid,
    so each piece computes exactly what one pass would, up to the context it lacks beyond ``overlap``."""
    param = next(net.parameters())
    step = net.unshuffle
    tile, overlap = max(step, tile // step * step), math.ceil(overlap / step) * step
    h, w = image.shape[:2]
    x = torch.from_numpy(np.array(image, np.uint8)).permute(2, 0, 1)[None].to(param.device, param.dtype) / 255.0
    ph, pw = -h % step, -w % step  # the network needs sides divisible by its unshuffle factor
    if ph or pw:
        x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode="replicate")
    height, width = x.shape[-2:]
    s = net.config.scale
    out = torch.empty(1, 3, height * s, width * s, dtype=torch.float32)
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            iy0, ix0 = max(0, y0 - overlap), max(0, x0 - overlap)
            iy1, ix1 = min(height, y1 + overlap), min(width, x1 + overlap)
            piece = net(x[..., iy0:iy1, ix0:ix1]).float().cpu()
            out[..., y0 * s:y1 * s, x0 * s:x1 * s] = piece[..., (y0 - iy0) * s:(y1 - iy0) * s,
                                                            (x0 - ix0) * s:(x1 - ix0) * s]
    out = out[..., : h * s, : w * s]
    return (out[0].clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()


class RealESRNetUpsampler:
    """An RRDBNet as a background upsampler: the network's scale, then a resize to the exact ``factor``.

    Args:
        net: the network (e.g. ``realesrnet-x2``), in eval mode on its device.
        tile: tile side in input pixels (default: the largest that fits ``memory_budget_mb``).
        overlap: context pixels around each tile.
    """

    def __init__(self, net: RRDBNet, tile: int | None = None, overlap: int = DEFAULT_OVERLAP,
                 memory_budget_mb: float = DEFAULT_TILE_BUDGET_MB) -> None:
        self.net = net.eval()
        self.tile = tile or tile_for_budget(net, memory_budget_mb)
        self.overlap = overlap

    def __call__(self, image: np.ndarray, factor: float) -> np.ndarray:
        if factor <= 1:
            return lanczos_upsample(image, factor)
        up = upsample_tiled(self.net, image, self.tile, self.overlap)
        h, w = image.shape[:2]
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        if size == (up.shape[1], up.shape[0]):
            return up
        interp = cv2.INTER_AREA if size[0] < up.shape[1] else cv2.INTER_LANCZOS4
        return cv2.resize(up, size, interpolation=interp)


def get_upsampler(name: str, device: str | torch.device = "cpu") -> Upsampler:
    """``"lanczos"`` or a registry name of an RRDBNet (``"realesrnet-x2"``: fetched and converted on first use)."""
    if name == "lanczos":
        return lanczos_upsample
    from . import registry
    from .hub import converted_folder

    entry = registry.get(name)
    if entry.kind != "realesrnet":
        raise ValueError(f"{name!r} is {entry.description}, not a background upsampler; "
                         f"use 'lanczos' or one of {registry.names('realesrnet')}")
    net = RRDBNet.from_pretrained(converted_folder(entry)).to(device)
    return RealESRNetUpsampler(net)
