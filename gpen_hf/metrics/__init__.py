"""Face restoration metrics: PSNR, SSIM, LPIPS (AlexNet v0.1), identity similarity and NIQE.

All take uint8 RGB ``(H, W, 3)`` numpy images (or float tensors in [0, 1]). Weights ship in
``gpen_hf/assets`` (see its README for origins and licenses); nothing is downloaded at run time.
"""

from .core import ALL_METRICS, FULL_REFERENCE, HIGHER_IS_BETTER, NO_REFERENCE, FaceMetrics, compute_metrics
from .fidelity import PSNR_CAP_DB, psnr, ssim
from .identity import FaceRecognitionNet, face_embedding, identity_similarity
from .lpips import LPIPS, lpips_distance
from .niqe import niqe

__all__ = [
    "ALL_METRICS",
    "FULL_REFERENCE",
    "HIGHER_IS_BETTER",
    "LPIPS",
    "NO_REFERENCE",
    "PSNR_CAP_DB",
    "FaceMetrics",
    "FaceRecognitionNet",
    "compute_metrics",
    "face_embedding",
    "identity_similarity",
    "lpips_distance",
    "niqe",
    "psnr",
    "ssim",
]
