"""Faces in photos: YuNet detection, 5-point alignment to the FFHQ template, paste-back masks and blending."""

from gpen_hf.faces.align import (
    FFHQ_TEMPLATE_512,
    FaceAligner,
    affine_scale,
    invert_affine,
    resize_face,
    transform_points,
)
from gpen_hf.faces.detect import Detections, FaceDetector
from gpen_hf.faces.parsing import (
    FACE_ONLY_MASK_VALUES,
    PARSING_CLASSES,
    PASTE_MASK_VALUES,
    face_mask_from_parsing,
)
from gpen_hf.faces.paste import feather_mask, paste_faces

__all__ = [
    "FACE_ONLY_MASK_VALUES",
    "FFHQ_TEMPLATE_512",
    "PARSING_CLASSES",
    "PASTE_MASK_VALUES",
    "Detections",
    "FaceAligner",
    "FaceDetector",
    "affine_scale",
    "face_mask_from_parsing",
    "feather_mask",
    "invert_affine",
    "paste_faces",
    "resize_face",
    "transform_points",
]
