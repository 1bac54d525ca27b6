"""``FaceMetrics`` (models built once) and the ``compute_metrics`` entry point."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from ._image import ImageLike, check_pair, to_float_tensor
from .fidelity import psnr, ssim
from .identity import FaceRecognitionNet, identity_similarity
from .lpips import LPIPS, lpips_distance
from .niqe import niqe

FULL_REFERENCE = ("psnr", "ssim", "lpips", "identity")
NO_REFERENCE = ("niqe",)
ALL_METRICS = FULL_REFERENCE + NO_REFERENCE
#: higher is better for these; lower is better for lpips and niqe
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "lpips": False, "identity": True, "niqe": False}


class FaceMetrics:
    """Holds the LPIPS and face-descriptor nets (built lazily, once) and computes metrics.

    ``identity`` expects faces aligned to the FFHQ-style 5-point template (any square resolution).
    """

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self._lpips: LPIPS | None = None
        self._face_net: FaceRecognitionNet | None = None

    @property
    def lpips_model(self) -> LPIPS:
        if self._lpips is None:
            self._lpips = LPIPS().to(self.device)
        return self._lpips

    @property
    def face_net(self) -> FaceRecognitionNet:
        if self._face_net is None:
            self._face_net = FaceRecognitionNet().to(self.device)
        return self._face_net

    def __call__(
        self,
        restored: ImageLike,
        reference: ImageLike | None = None,
        metrics: Iterable[str] | None = None,
    ) -> dict[str, float]:
        """Compute ``metrics`` (default: all that apply: full-reference ones only with a reference)."""
        if isinstance(metrics, str):
            metrics = (metrics,)
        explicit = metrics is not None
        names = tuple(metrics) if explicit else ALL_METRICS
        unknown = [m for m in names if m not in ALL_METRICS]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; choose from {list(ALL_METRICS)}")
        if reference is None:
            needs_ref = [m for m in names if m in FULL_REFERENCE]
            if explicit and needs_ref:
                raise ValueError(
                    f"metric(s) {needs_ref} need a reference image; only {list(NO_REFERENCE)} work without"
                )
            names = tuple(m for m in names if m not in FULL_REFERENCE)
        else:
            check_pair(to_float_tensor(restored, "restored"), to_float_tensor(reference, "reference"))
        out: dict[str, float] = {}
        for name in names:
            if name == "psnr":
                out[name] = psnr(restored, reference)
            elif name == "ssim":
                out[name] = ssim(restored, reference)
            elif name == "lpips":
                out[name] = lpips_distance(restored, reference, self.lpips_model)
            elif name == "identity":
                out[name] = identity_similarity(restored, reference, self.face_net)
            elif name == "niqe":
                out[name] = niqe(restored)
        return out


_DEFAULT: FaceMetrics | None = None


def compute_metrics(
    restored: ImageLike,
    reference: ImageLike | None = None,
    metrics: Iterable[str] | None = ALL_METRICS,
) -> dict[str, float]:
    """Metrics of a restored face (uint8 RGB ``(H, W, 3)``), with a module-level cached ``FaceMetrics``.

    With ``reference=None`` and the default ``metrics``, only the no-reference ones (NIQE) are computed;
    asking explicitly for a full-reference metric without a reference raises ``ValueError``.
    """
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = FaceMetrics()
    return _DEFAULT(restored, reference, None if metrics is ALL_METRICS else metrics)
