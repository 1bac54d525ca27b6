"""Photos and the photo degradation shared by ``bench_photo_fidelity.py``: the clean photos of one split of
``../shared/data/faces`` (from MANIFEST.csv) and the whole-photo degradation of issue 16."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: ``../shared`` of the checkout, or $GPEN_SHARED (e.g. when running from a git worktree elsewhere)
FACES = Path(os.environ.get("GPEN_SHARED", ROOT.parent / "shared")) / "data" / "faces"


def split_photos(split: str, min_iod: float = 60.0) -> list[Path]:
    """Photos whose rows in MANIFEST.csv have ``split`` (all their faces in it) and a face with IOD ≥ min_iod."""
    with open(FACES / "MANIFEST.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    photos = {r["photo_file"] for r in rows if r["kind"] != "aligned_face" and r["split"] == split}
    big = {r["photo_file"] for r in rows if r["kind"] == "aligned_face" and float(r["iod_px"] or 0) >= min_iod}
    return sorted(FACES / p for p in photos & big if (FACES / p).is_file())


def degrade_photo(rgb: np.ndarray, scale: float = 4.0, noise: float = 5.0, jpeg: int | None = 35,
                  seed: int = 0) -> np.ndarray:
    """Area-downscale by ``scale``, add Gaussian noise σ ``noise``, JPEG at ``jpeg``, bicubic back up."""
    h, w = rgb.shape[:2]
    small = rgb
    if scale != 1:
        small = cv2.resize(rgb, (max(1, round(w / scale)), max(1, round(h / scale))), interpolation=cv2.INTER_AREA)
    if noise:
        noisy = small.astype(np.float32) + np.random.default_rng(seed).normal(0, noise, small.shape)
        small = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    if jpeg:
        _, buf = cv2.imencode(".jpg", small[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(jpeg)])
        small = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    if scale != 1:
        small = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(small)
