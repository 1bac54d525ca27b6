"""Degradation: determinism, the effect of each knob, presets, and the torch batch helper."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from gpen_hf.degradation import DegradationParams, degrade, degrade_batch, degrade_pair, sample
from gpen_hf.kernels import gaussian_kernel, motion_kernel

FIXTURES = Path(__file__).parent / "fixtures" / "photos"


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A real 256×256 face region (with skin, hair and edges) from a fixture photo."""
    bgr = cv2.imread(str(FIXTURES / "faceapi__sample6_one_face.jpg"))
    crop = bgr[130:386, 90:346, ::-1]
    return np.ascontiguousarray(crop)


def high_freq_energy(image: np.ndarray) -> float:
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def blockiness(image: np.ndarray) -> float:
    """Mean jump across 8-px block borders minus the mean jump inside blocks (JPEG blocking)."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    diff = np.abs(np.diff(gray, axis=1))
    border = diff[:, 7::8].mean()
    inside = np.delete(diff, np.s_[7::8], axis=1).mean()
    return float(border - inside)


@pytest.mark.parametrize("preset", ["paper", "gfpgan"])
def test_same_seed_gives_identical_bytes(face: np.ndarray, preset: str) -> None:
    a = degrade(face, sample(123, preset, resolution=256))
    b = degrade(face, sample(123, preset, resolution=256))
    c = degrade(face, sample(124, preset, resolution=256))
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_output_shape_dtype_and_no_upsample(face: np.ndarray) -> None:
    params = DegradationParams(blur="iso", sigma_x=2, kernel_size=13, scale=4, noise_sigma=5, jpeg_quality=30)
    out = degrade(face, params)
    assert out.shape == face.shape and out.dtype == np.uint8
    small = degrade(face, DegradationParams(scale=4, upsample=False))
    assert small.shape == (64, 64, 3)
    tiny = degrade(face, DegradationParams(scale=200, upsample=False))
    assert tiny.shape == (1, 1, 3)


def test_identity_params_leave_the_image_unchanged(face: np.ndarray) -> None:
    assert np.array_equal(degrade(face, DegradationParams()), face)


def test_more_blur_less_high_frequency(face: np.ndarray) -> None:
    energies = [high_freq_energy(degrade(face, DegradationParams(blur="iso", sigma_x=s, kernel_size=41)))
                for s in (0.5, 1.5, 3.0, 6.0)]
    assert all(a > b for a, b in itertools.pairwise(energies)), energies
    motion = [high_freq_energy(degrade(face, DegradationParams(blur="motion", motion_length=n, motion_angle=30)))
              for n in (3, 9, 21)]
    assert all(a > b for a, b in itertools.pairwise(motion)), motion


def test_lower_jpeg_quality_more_blocking(face: np.ndarray) -> None:
    smooth = degrade(face, DegradationParams(blur="iso", sigma_x=2.0, kernel_size=13))
    scores = [blockiness(degrade(smooth, DegradationParams(jpeg_quality=q))) for q in (95, 50, 20, 5)]
    assert all(a < b for a, b in itertools.pairwise(scores)), scores


def test_noise_and_downsampling_effects(face: np.ndarray) -> None:
    flat = np.full((128, 128, 3), 128, np.uint8)
    stds = [degrade(flat, DegradationParams(noise_sigma=s, seed=1)).astype(float).std() for s in (0, 5, 25)]
    assert stds[0] == 0 and abs(stds[1] - 5) < 0.5 and abs(stds[2] - 25) < 2
    errors = [np.abs(degrade(face, DegradationParams(scale=s)).astype(float) - face).mean() for s in (1, 2, 8, 32)]
    assert all(a < b for a, b in itertools.pairwise(errors)), errors


def test_grayscale_and_flip(face: np.ndarray) -> None:
    gray = degrade(face, DegradationParams(grayscale=True))
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])
    target, lq = degrade_pair(face, DegradationParams(flip=True))
    assert np.array_equal(lq, face[:, ::-1]) and np.array_equal(target, lq)


def test_kernels_are_normalised_and_oriented() -> None:
    for k in (gaussian_kernel(21, 3.0), gaussian_kernel(21, 4.0, 1.0, 0.3), motion_kernel(15, 45)):
        assert k.shape[0] % 2 == 1 and abs(float(k.sum()) - 1) < 1e-5 and (k >= 0).all()
    horizontal = motion_kernel(11, 0)
    assert horizontal.sum(axis=0).std() < horizontal.sum(axis=1).std()  # energy spread along x
    aniso = gaussian_kernel(31, 6.0, 1.0, 0.0)
    assert aniso[15].sum() > aniso[:, 15].sum()


@pytest.mark.parametrize("preset,noise,jpeg", [("paper", (0, 25), (5, 50)), ("gfpgan", (0, 20), (60, 100))])
def test_sample_respects_preset_ranges(preset: str, noise: tuple, jpeg: tuple) -> None:
    rng = np.random.default_rng(0)
    draws = [sample(rng, preset, resolution=1024 if preset == "paper" else 512) for _ in range(300)]
    assert all(noise[0] <= d.noise_sigma <= noise[1] for d in draws)
    assert all(jpeg[0] <= d.jpeg_quality <= jpeg[1] for d in draws)
    scales = [d.scale for d in draws]
    if preset == "paper":
        assert 10 <= min(scales) and max(scales) <= 200 and {d.blur for d in draws} == {"none", "iso", "aniso", "motion"}
    else:
        assert 0.8 <= min(scales) and max(scales) <= 8 and any(d.flip for d in draws)
        assert all(0.1 <= d.sigma_x <= 10 for d in draws)


def test_paper_scale_follows_resolution() -> None:
    """At 64 px the paper's 1024-px factors shrink 16× (clamped at 1), so LQ faces keep the same size."""
    small = [sample(i, "paper", resolution=64).scale for i in range(50)]
    big = [sample(i, "paper", resolution=1024).scale for i in range(50)]
    assert all(s >= 1 for s in small)
    assert np.allclose([max(b / 16, 1) for b in big], small)


def test_bad_params_are_rejected(face: np.ndarray) -> None:
    with pytest.raises(ValueError, match="blur"):
        DegradationParams(blur="box")
    with pytest.raises(ValueError, match="jpeg_quality"):
        DegradationParams(jpeg_quality=0)
    with pytest.raises(ValueError, match="uint8"):
        degrade(face.astype(np.float32), DegradationParams())


def test_degrade_batch_matches_numpy_path(face: np.ndarray) -> None:
    x = torch.from_numpy(face).permute(2, 0, 1).float().div(127.5).sub(1).unsqueeze(0).repeat(2, 1, 1, 1)
    params = [sample(5, "gfpgan", resolution=256, flip_prob=1.0), sample(6, "paper", resolution=256)]
    batch = degrade_batch(x, params)
    assert batch.lq.shape == x.shape and batch.lq.dtype == x.dtype
    expected = degrade(face, params[0]).astype(np.float32) / 127.5 - 1
    assert np.allclose(batch.lq[0].permute(1, 2, 0).numpy(), expected, atol=1e-5)
    assert torch.equal(batch.target[0], x[0].flip(-1)) or torch.allclose(batch.target[0], x[0].flip(-1), atol=1e-5)
    again = degrade_batch(x, rng=7, preset="paper")
    assert torch.equal(again.lq, degrade_batch(x, rng=7, preset="paper").lq) and len(again.params) == 2
