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


def _face_sources(tmp_path: Path) -> tuple[Path, Path]:
    """Two sources of different sizes and formats: the fixtures as 256-px PNGs, and two as 96-px JPEGs."""
    from PIL import Image

    small = tmp_path / "small"
    small.mkdir()
    for path in sorted(FACES.glob("*.png"))[:2]:
        Image.open(path).convert("RGB").resize((96, 96)).save(small / f"{path.stem}.jpg", quality=90)
    return FACES, small


def _epoch_faces(stream: FaceStream, epoch: int = 0) -> list[int]:
    """Which face (index into ``stream.paths``) each position of ``epoch`` shows."""
    return [int(stream._permutation(epoch)[i]) for i in range(len(stream))]


def test_sources_of_mixed_sizes_and_formats_are_resized_to_the_resolution(tmp_path: Path) -> None:
    big, small = _face_sources(tmp_path)
    stream = FaceStream([big, small], 32, flip_prob=0.0)
    assert len(stream.paths) == 5 and len(stream) == 5
    assert {tuple(stream[p]["target"].shape) for p in range(5)} == {(3, 32, 32)}
    assert sorted(_epoch_faces(stream)) == list(range(5))  # weight 1: every face once per epoch


def test_one_source_at_weight_one_keeps_the_single_folder_stream() -> None:
    # a run started with one folder resumes unchanged with the multi-source code
    one, listed = FaceStream(FACES, 32, seed=4), FaceStream([FACES], 32, seed=4, source_weights=[1.0])
    expected = np.random.default_rng([4, 1, 7]).permutation(len(one.paths))
    assert _epoch_faces(one, 1) == _epoch_faces(listed, 1) == expected.tolist()


def test_source_weights_set_appearances_per_epoch(tmp_path: Path) -> None:
    big, small = _face_sources(tmp_path)  # 3 faces, then 2
    stream = FaceStream([big, small], 32, seed=1, source_weights=[0.5, 2.0])
    assert len(stream) == round(0.5 * 3) + 2 * 2
    for epoch in range(4):
        faces = _epoch_faces(stream, epoch)
        assert [faces.count(i) for i in (3, 4)] == [2, 2]  # the small source twice over
        assert sum(faces.count(i) for i in range(3)) == 2 and max(faces.count(i) for i in range(3)) == 1
    halves = {tuple(sorted(f for f in _epoch_faces(stream, e) if f < 3)) for e in range(8)}
    assert len(halves) > 1  # the half of the big source is drawn anew each epoch
    excluded = FaceStream([big, small], 32, source_weights=[0.0, 1.0])
    assert sorted(_epoch_faces(excluded)) == [3, 4]


def test_manifests_list_faces_relative_to_themselves(tmp_path: Path) -> None:
    import shutil

    for path in sorted(FACES.glob("*.png")):
        shutil.copy(path, tmp_path / path.name)
    names = sorted(p.name for p in FACES.glob("*.png"))
    (tmp_path / "list.txt").write_text(f"# two faces\n{names[0]}\n\n{names[2]}\n")
    (tmp_path / "faces.csv").write_text("file,split\n" + "".join(f"{n},{s}\n" for n, s in zip(names, "ab" "a")))
    assert [p.name for p in FaceStream(tmp_path / "list.txt", 32).paths] == [names[0], names[2]]
    where_a = FaceStream(tmp_path / "faces.csv", 32, manifest_filter={"split": "a"})
    assert [p.name for p in where_a.paths] == [names[0], names[2]]
    with pytest.raises(ValueError, match="no 'kind' column"):
        FaceStream(tmp_path / "faces.csv", 32, manifest_filter={"kind": "aligned_face"})
    assert len(FaceStream(tmp_path / "faces.csv", 32).paths) == 3


def test_bad_sources_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").write_text("missing.png\n")
    with pytest.raises(FileNotFoundError, match=r"gone\.txt.*missing\.png"):
        FaceStream(tmp_path / "gone.txt", 32)
    (tmp_path / "nofile.csv").write_text("path,split\nx.png,train\n")
    with pytest.raises(ValueError, match="no 'file' column"):
        FaceStream(tmp_path / "nofile.csv", 32)
    with pytest.raises(ValueError, match="2 source weights for 1 sources"):
        FaceStream(FACES, 32, source_weights=[1, 2])
    with pytest.raises(ValueError, match="at least one > 0"):
        FaceStream(FACES, 32, source_weights=[0])
