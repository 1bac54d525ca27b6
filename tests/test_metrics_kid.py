"""KID-AlexNet: zero-centred for one distribution, large for another; the stage-1 tracker writes its table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from gpen_hf.metrics.kid import AlexNetFeatures, kid_alexnet

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT / "tests" / "fixtures" / "faces"


@pytest.fixture(scope="module")
def features() -> AlexNetFeatures:
    return AlexNetFeatures()


def test_kid_separates_distributions(features) -> None:
    g = torch.Generator().manual_seed(0)
    noise = [torch.randint(0, 256, (20, 3, 32, 32), dtype=torch.uint8, generator=g) for _ in range(2)]
    more_noise = [torch.randint(0, 256, (20, 3, 32, 32), dtype=torch.uint8, generator=g) for _ in range(2)]
    dark = [(x.float() * 0.3).to(torch.uint8) for x in more_noise]
    same, _ = kid_alexnet(noise, more_noise, subset_size=20, subsets=20, features=features)
    other, _ = kid_alexnet(noise, dark, subset_size=20, subsets=20, features=features)
    assert abs(same) < 0.05 * other and other > 0


def test_kid_needs_enough_images(features) -> None:
    few = [torch.zeros(5, 3, 32, 32, dtype=torch.uint8)]
    with pytest.raises(ValueError, match="at least subset_size=10 images per side, got 5 real and 5 generated"):
        kid_alexnet(few, few, subset_size=10, features=features)


def test_track_prior_writes_kid_table_and_grids(tmp_path) -> None:
    from gpen_hf.models import StyleGAN2Prior

    torch.manual_seed(0)
    for step in (2, 4):
        StyleGAN2Prior(resolution=16, style_dim=32, n_mlp=2, channel_multiplier=1, narrow=0.125).save_pretrained(
            tmp_path / "run" / f"checkpoint-{step}" / "generator")
    spec = importlib.util.spec_from_file_location("track_prior", ROOT / "training" / "track_prior.py")
    track = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(track)
    args = [str(tmp_path / "run"), "--train_data_dir", str(FACES), "--num_samples", "3", "--grid", "3", "1"]
    rows = track.main(args)
    assert [r["step"] for r in rows] == [2, 4] and all(float(r["kid"]) == float(r["kid"]) for r in rows)
    assert (tmp_path / "run" / "track" / "grid-0000004.png").is_file()
    assert (tmp_path / "run" / "track" / "grid-0000004-no-noise.png").is_file()
    assert track.main(args) == []  # done checkpoints are skipped
    assert len((tmp_path / "run" / "track" / "kid.csv").read_text().splitlines()) == 3
