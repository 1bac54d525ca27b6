"""The shipped default model: found with no arguments, documented, and better than its input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from gpen_hf import DegradationParams, GPENPipeline, degrade
from gpen_hf.metrics import FaceMetrics
from gpen_hf.pipeline import DEFAULT_MODEL_DIR

FACES = sorted((Path(__file__).parent / "fixtures" / "faces").glob("*.png"))
PHOTO = Path(__file__).parent.parent / "space" / "examples" / "matplotlib__grace_hopper.jpg"
#: README's main command: the bundled photo made small and degraded, then restored at 4x
README_DEGRADE = ["--preset", "none", "--blur", "iso:1", "--scale", "4", "--noise", "8", "--jpeg", "30",
                  "--no-upsample"]
FACE_BOX = (slice(80, 380), slice(120, 420))  # rows, columns of Grace Hopper's face in the 512 x 600 photo


@pytest.fixture(scope="module")
def pipe() -> GPENPipeline:
    return GPENPipeline.from_pretrained()


def test_shipped_model_loads_without_arguments(pipe: GPENPipeline) -> None:
    assert pipe.model.config.resolution == 128
    assert pipe.dtype == torch.float32
    assert not pipe.model.training
    card = (DEFAULT_MODEL_DIR / "README.md").read_text()
    front = card.split("---")[1]
    for line in ("library_name: gpen-hf", "pipeline_tag: image-to-image", "license:", "- lpips"):
        assert line in front
    assert "| GPEN (this model" in card and "| bicubic |" in card  # the evaluation table
    size = sum(f.stat().st_size for f in DEFAULT_MODEL_DIR.iterdir())
    assert size < 12 * 2**20  # fp16 weights keep the repository small


def test_restores_degraded_faces_better_than_the_input(pipe: GPENPipeline) -> None:
    metrics = FaceMetrics()
    params = DegradationParams(blur="iso", kernel_size=15, sigma_x=1.5, sigma_y=1.5, scale=3, noise_sigma=8,
                               jpeg_quality=35, seed=1)
    lq_scores, restored_scores = [], []
    for path in FACES:
        hq = cv2.resize(cv2.imread(str(path))[:, :, ::-1], (128, 128), interpolation=cv2.INTER_AREA)
        lq = degrade(np.ascontiguousarray(hq), params)
        (restored,) = pipe.restore_faces([lq])
        lq_scores.append(metrics(lq, hq, ["lpips"])["lpips"])
        restored_scores.append(metrics(restored, hq, ["lpips"])["lpips"])
    assert np.mean(restored_scores) < 0.9 * np.mean(lq_scores)


def test_readme_command_restores_the_bundled_photo(tmp_path: Path) -> None:
    from gpen_hf.cli import main

    small = tmp_path / "small.jpg"
    assert main(["degrade", str(PHOTO), "-o", str(small), *README_DEGRADE]) == 0
    assert main(["restore", str(small), "-o", str(tmp_path / "outputs"), "--upscale", "4"]) == 0
    hq = cv2.imread(str(PHOTO))
    restored = cv2.imread(str(tmp_path / "outputs" / "small.png"))
    assert restored is not None and restored.shape == hq.shape
    lanczos = cv2.resize(cv2.imread(str(small)), hq.shape[1::-1], interpolation=cv2.INTER_LANCZOS4)
    metrics = FaceMetrics()

    def face(image: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(image[FACE_BOX][:, :, ::-1])

    score = {name: metrics(face(im), face(hq), ["lpips", "psnr"])
             for name, im in (("lanczos", lanczos), ("restored", restored))}
    print("face box, against the original:", score)  # README quotes these (pytest -s)
    assert score["restored"]["lpips"] < score["lanczos"]["lpips"] - 0.01, score
    assert score["restored"]["psnr"] > score["lanczos"]["psnr"] - 0.5, score
