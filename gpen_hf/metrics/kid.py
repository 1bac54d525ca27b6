"""Kernel Inception Distance on the AlexNet features we ship: a distribution distance with no download.

FID/KID normally use an Inception-v3 network that would have to be downloaded. Here the features are those of
the ImageNet AlexNet trunk inside the shipped LPIPS weights: global-average-pooled conv3, conv4 and conv5
activations (896 numbers per image) of the image resized to 224×224. KID (Bińkowski et al., 2018: the unbiased
squared MMD with a cubic polynomial kernel, averaged over subsets) is computed by torchmetrics; it is unbiased
for small sample counts, which FID is not. Values are comparable between runs of this metric only, not with
published Inception KIDs: call it ``KID-AlexNet``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from .lpips import LPIPS

FEATURE_SIZE = 224
_POOLED_TAPS = (7, 9, 11)  # ReLU outputs of conv3, conv4, conv5 in the AlexNet trunk


class AlexNetFeatures(nn.Module):
    """Images (N, 3, H, W) uint8 or float in [0, 1] → (N, 896) pooled AlexNet features (torchmetrics' contract)."""

    def __init__(self) -> None:
        super().__init__()
        lpips = LPIPS()
        self.trunk, self.shift, self.scale = lpips.features, lpips.shift, lpips.scale
        self.num_features = 384 + 256 + 256
        self.eval().requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        x = F.interpolate(x * 2 - 1, size=(FEATURE_SIZE, FEATURE_SIZE), mode="bilinear", align_corners=False,
                          antialias=True)
        x = (x - self.shift) / self.scale
        pooled = []
        for i, layer in enumerate(self.trunk):
            x = layer(x)
            if i in _POOLED_TAPS:
                pooled.append(x.mean(dim=(2, 3)))
        return torch.cat(pooled, dim=1)


def kid_alexnet(real: Iterable[torch.Tensor], fake: Iterable[torch.Tensor], subset_size: int = 100,
                subsets: int = 50, features: AlexNetFeatures | None = None) -> tuple[float, float]:
    """KID-AlexNet (mean, std over subsets) between two streams of uint8 (N, 3, H, W) batches; ×1000 is usual."""
    from torchmetrics.image.kid import KernelInceptionDistance

    features = features if features is not None else AlexNetFeatures()
    counts = {True: 0, False: 0}
    with warnings.catch_warnings():  # "will save all extracted features": that is the point, a few MB here
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(feature=features, subsets=subsets, subset_size=subset_size)
    with torch.no_grad():
        for is_real, batches in ((True, real), (False, fake)):
            for batch in batches:
                metric.update(batch, real=is_real)
                counts[is_real] += len(batch)
    if min(counts.values()) < subset_size:
        raise ValueError(f"KID needs at least subset_size={subset_size} images per side, got "
                         f"{counts[True]} real and {counts[False]} generated")
    mean, std = metric.compute()
    return float(mean), float(std)
