"""Automatic per-face fidelity: the degradation estimate rises with each degradation, and the identity guard."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from _models import Identity

from gpen_hf.degradation import DegradationParams, degrade
from gpen_hf.faces.quality import blocking, estimate_quality, noise_sigma
from gpen_hf.fidelity import IdentityGuard, alpha_from_quality
from gpen_hf.pipeline import GPENPipeline

FACES = Path(__file__).parent / "fixtures" / "faces"


def face(name: str = "faceapi__sample3__f1_256.png") -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(FACES / name))[:, :, ::-1])


def score(image: np.ndarray) -> float:
    return estimate_quality(image, None, image).score


@pytest.mark.parametrize("name", ["faceapi__sample3__f1_256.png", "facerec__obama__f0_256.png"])
@pytest.mark.parametrize("kind", ["scale", "blur", "noise", "jpeg"])
def test_degradation_score_is_monotonic_in_strength(name: str, kind: str) -> None:
    hq = face(name)
    strengths = {"scale": [1.5, 2, 3, 4, 6], "blur": [0.7, 1.2, 2, 3, 4], "noise": [2, 4, 6, 9, 14],
                 "jpeg": [80, 60, 40, 25, 10]}[kind]

    def params(v: float) -> DegradationParams:
        if kind == "scale":
            return DegradationParams(scale=v)
        if kind == "blur":
            return DegradationParams(blur="iso", sigma_x=v)
        return DegradationParams(noise_sigma=v, seed=3) if kind == "noise" else DegradationParams(jpeg_quality=int(v))

    scores = [score(hq)] + [score(degrade(hq, params(v))) for v in strengths]
    assert all(b >= a - 0.02 for a, b in itertools.pairwise(scores)), scores
    assert scores[-1] > scores[0] + 0.3, scores
    alphas = [alpha_from_quality(estimate_quality(degrade(hq, params(v)))) for v in strengths]
    assert alphas == sorted(alphas) or all(b >= a - 0.02 for a, b in itertools.pairwise(alphas))


def test_clean_faces_score_low_and_measures_read_what_was_added() -> None:
    hq = face()
    assert score(hq) < 0.35
    noisy = degrade(hq, DegradationParams(noise_sigma=8, seed=1))
    assert noise_sigma(noisy) > noise_sigma(hq) + 3
    blocked = degrade(hq, DegradationParams(jpeg_quality=15))
    assert blocking(blocked) > 1.3 > blocking(hq)


class SomeoneElse(Identity):
    """Always returns the same other person's face."""

    def __init__(self, other: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("other", torch.from_numpy(other).permute(2, 0, 1)[None].float() / 127.5 - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.other.expand_as(x).clone()


def test_identity_guard_fires_on_a_model_that_returns_another_person() -> None:
    me, other = face("faceapi__sample3__f1_256.png"), face("facerec__obama__f0_256.png")
    other = cv2.resize(other, (128, 128), interpolation=cv2.INTER_AREA)
    swapped = GPENPipeline(SomeoneElse(other), resolution=128)(me, aligned=True, alpha=1.0, output_type="np")
    fid = swapped.fidelity[0]
    assert fid.guarded and fid.alpha < 0.5 and fid.identity is not None and fid.identity >= 0.9
    kept = GPENPipeline(Identity(), resolution=128)(me, aligned=True, alpha=1.0, output_type="np")
    assert not kept.fidelity[0].guarded and kept.fidelity[0].alpha == 1.0
    off = GPENPipeline(SomeoneElse(other), resolution=128)(me, aligned=True, alpha=1.0, identity_guard=False,
                                                          output_type="np")
    assert off.fidelity[0].alpha == 1.0 and off.fidelity[0].identity is None


def test_guard_steps_down_to_the_largest_passing_weight() -> None:
    me = cv2.resize(face(), (128, 128), interpolation=cv2.INTER_AREA)
    other = cv2.resize(face("facerec__obama__f0_256.png"), (128, 128), interpolation=cv2.INTER_AREA)
    guard = IdentityGuard(threshold=0.0)
    assert guard(other, me, 0.8)[0] == 0.8  # any similarity passes a threshold of 0
    strict = IdentityGuard(threshold=1.01)
    alpha, _, lowered = strict(other, me, 0.8)
    assert alpha == 0.0 and lowered


def test_auto_alpha_restores_a_degraded_face_more_than_a_clean_one() -> None:
    pipe = GPENPipeline(Identity(), resolution=64)
    hq = face()
    lq = degrade(hq, DegradationParams(scale=4, noise_sigma=5, jpeg_quality=35, seed=0))
    clean = pipe(hq, aligned=True, identity_guard=False, output_type="np").fidelity[0]
    bad = pipe(lq, aligned=True, identity_guard=False, output_type="np").fidelity[0]
    assert clean.alpha < 0.35 and bad.alpha > 0.9
    assert bad.quality is not None and bad.quality.score == pytest.approx(bad.alpha)
    assert "degradation" in bad.summary()
    with pytest.raises(ValueError, match="alpha"):
        pipe(hq, aligned=True, alpha="high")
    with pytest.raises(ValueError, match="parsing"):
        pipe(hq, mask="parsing")
