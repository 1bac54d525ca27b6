"""Faces in photos: YuNet detection, 5-point alignment to the FFHQ template, masks, quality and paste-back."""

from gpen_hf.faces.align import (
    FFHQ_TEMPLATE_512,
    FaceAligner,
    affine_scale,
    invert_affine,
    resize_face,
    transform_points,
)
from gpen_hf.faces.detect import Detections, FaceDetector
from gpen_hf.faces.mask import MASK_KINDS, crop_mask, face_region_mask, feather_mask
from gpen_hf.faces.parsing import (
    FACE_ONLY_MASK_VALUES,
    PARSING_CLASSES,
    PASTE_MASK_VALUES,
    face_mask_from_parsing,
)
from gpen_hf.faces.paste import paste_faces
from gpen_hf.faces.quality import FaceQuality, estimate_quality

__all__ = [
    "FACE_ONLY_MASK_VALUES",
    "FFHQ_TEMPLATE_512",
    "MASK_KINDS",
    "PARSING_CLASSES",
    "PASTE_MASK_VALUES",
    "Detections",
    "FaceAligner",
    "FaceDetector",
    "FaceQuality",
    "affine_scale",
    "crop_mask",
    "estimate_quality",
    "face_mask_from_parsing",
    "face_region_mask",
    "feather_mask",
    "invert_affine",
    "paste_faces",
    "resize_face",
    "transform_points",
]
