"""Training code shared by ``training/pretrain_prior.py`` (stage 1) and ``training/finetune.py`` (stage 2)."""

from .augment import diff_augment
from .data import DegradedPairStream, FaceStream, find_images, make_loader
from .losses import (
    content_loss,
    d_logistic_loss,
    feature_matching_loss,
    g_nonsaturating_loss,
    gpen_generator_loss,
    path_length_penalty,
    r1_penalty,
)
from .prior import gpen_from_prior, load_prior

__all__ = [
    "DegradedPairStream",
    "FaceStream",
    "content_loss",
    "d_logistic_loss",
    "diff_augment",
    "feature_matching_loss",
    "find_images",
    "g_nonsaturating_loss",
    "gpen_from_prior",
    "gpen_generator_loss",
    "load_prior",
    "make_loader",
    "path_length_penalty",
    "r1_penalty",
]
