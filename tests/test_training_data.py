"""Training data streams: items are a pure function of (seed, position); flips keep LQ/HQ paired."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gpen_hf.training import DegradedPairStream, FaceStream

FACES = Path(__file__).parent / "fixtures" / "faces"


def test_face_stream_is_a_function_of_seed_and_position() -> None:
    a, b = FaceStream(FACES, 32, seed=3), FaceStream(FACES, 32, seed=3)
    for position in (0, 1, 7, 100):
        assert torch.equal(a[position]["target"], b[position]["target"])
    epoch0 = {tuple(a[p]["target"].flatten()[:64].tolist()) for p in range(len(a))}
    assert len(epoch0) == len(a)  # each epoch visits every face once


def test_degraded_pairs_flip_the_hq_face_before_degrading() -> None:
    plain = DegradedPairStream(FACES, 32, seed=1)
    flipped = DegradedPairStream(FACES, 32, seed=1, flip_prob=1.0)
    to_mirrored, to_plain = 0.0, 0.0
    for position in range(4):
        p, f = plain[position], flipped[position]
        assert torch.equal(f["target"], p["target"].flip(-1))
        assert p["lq"].shape == f["lq"].shape == p["target"].shape
        to_mirrored += float((f["lq"] - p["lq"].flip(-1)).abs().mean())
        to_plain += float((f["lq"] - p["lq"]).abs().mean())
    # Same degradation draw on the mirrored face: its LQ is near the mirrored LQ of the plain stream (not equal:
    # noise and JPEG blocks are not mirrored).
    assert to_mirrored < 0.6 * to_plain
    # Half the samples are flipped with flip_prob 0.5, and the stream stays reproducible.
    half = DegradedPairStream(FACES, 32, seed=1, flip_prob=0.5)
    flips = [torch.equal(half[i]["target"], plain[i]["target"].flip(-1)) for i in range(40)]
    assert 8 < sum(flips) < 32
    assert torch.equal(half[5]["lq"], DegradedPairStream(FACES, 32, seed=1, flip_prob=0.5)[5]["lq"])


def test_degraded_pairs_reject_unknown_preset() -> None:
    with pytest.raises(ValueError, match="unknown degradation preset 'jpeg'"):
        DegradedPairStream(FACES, 32, preset="jpeg")


def test_jitter_moves_the_hq_face_a_little_and_keeps_pairs() -> None:
    from gpen_hf import degradation

    plain = DegradedPairStream(FACES, 64, seed=2)
    jittered = DegradedPairStream(FACES, 64, seed=2, jitter=0.04)
    for position in range(3):  # the first epoch: each fixture face once
        p, j = plain[position], jittered[position]
        target = ((j["target"].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
        # The LQ is the same degradation draw applied to the jittered HQ face.
        params = degradation.sample(plain.rng(position), "paper", resolution=64)
        assert np.array_equal(degradation.degrade(target, params), ((j["lq"].permute(1, 2, 0) + 1) * 127.5)
                              .round().to(torch.uint8).numpy())
        moved = float((j["target"] - p["target"]).abs().mean())
        to_other_faces = [float((p["target"] - plain[q]["target"]).abs().mean()) for q in range(3) if q != position]
        assert 0.0 < moved < min(to_other_faces)
    assert torch.equal(jittered[3]["target"], DegradedPairStream(FACES, 64, seed=2, jitter=0.04)[3]["target"])


def test_jitter_is_bounded_like_alignment_error() -> None:
    square = np.zeros((64, 64, 3), np.uint8)
    square[24:40, 24:40] = 255
    stream = FaceStream(FACES, 64, flip_prob=0.0, jitter=0.04)
    for position in range(20):
        out = stream._jittered(square, np.random.default_rng(position))
        ys, xs = np.nonzero(out[..., 0] > 127)
        # Shift ≤ 0.04·64 ≈ 2.6 px, scale ≤ 4 %, turn ≤ 2.4°: the square's centre stays within 3 px.
        assert abs(ys.mean() - 31.5) <= 3 and abs(xs.mean() - 31.5) <= 3
        assert 0.85 * 256 < len(ys) < 1.15 * 256


@pytest.mark.parametrize("jitter", [-0.1, 0.5])
def test_jitter_out_of_range_is_rejected(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter must be in"):
        FaceStream(FACES, 32, jitter=jitter)


def test_jitter_keeps_the_detail_of_the_hq_face() -> None:
    import cv2

    def detail(image: np.ndarray) -> float:
        return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F).var())

    plain = FaceStream(FACES, 64, flip_prob=0.0)
    jittered = FaceStream(FACES, 64, flip_prob=0.0, jitter=0.04)
    for position in range(3):
        assert jittered.hq_face(position).shape == (64, 64, 3)
        # Warped at 4x and area-downscaled: no softer than the plain face (a warp at 64 px loses ~20 %).
        assert detail(jittered.hq_face(position)) > 0.9 * detail(plain.hq_face(position))


def test_loader_workers_survive_opencv_threads_started_in_the_parent(tmp_path: Path) -> None:
    # The 256-px fixture faces are upscaled to 4 x 128 px when loaded with jitter: a parallel OpenCV call in the
    # parent. A forked worker then hung in its first OpenCV call; workers must come from a fresh process.
    # (It hangs when run as a script file; `python -c` happened not to.)
    import subprocess
    import sys

    script = tmp_path / "load_one_batch.py"
    script.write_text(
        "from gpen_hf.training import DegradedPairStream, make_loader\n"
        "if __name__ == '__main__':\n"
        f"    data = DegradedPairStream({str(FACES)!r}, 128, seed=0, jitter=0.04)\n"
        "    batch = next(make_loader(data, 2, num_workers=1))\n"
        "    assert batch['lq'].shape == (2, 3, 128, 128), batch['lq'].shape\n"
        "    print('ok')\n"
    )
    try:
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False,
                              cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail("the data-loader worker hung (forked after OpenCV started its thread pool)")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
