"""Faces in photos: YuNet detection, 5-point alignment to the FFHQ template, feathered paste-back."""

from gpen_hf.faces.align import (
    FFHQ_TEMPLATE_512,
    FaceAligner,
    affine_scale,
    invert_affine,
    resize_face,
    transform_points,
)
from gpen_hf.faces.detect import Detections, FaceDetector
from gpen_hf.faces.paste import feather_mask, paste_faces

__all__ = [
    "FFHQ_TEMPLATE_512",
    "Detections",
    "FaceAligner",
    "FaceDetector",
    "affine_scale",
    "feather_mask",
    "invert_affine",
    "paste_faces",
    "resize_face",
    "transform_points",
]
