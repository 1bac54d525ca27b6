"""GPENDiscriminator: authors' logits, features for feature matching, minibatch stddev."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gpen_hf import GPENDiscriminator
from gpen_hf.models.discriminator import minibatch_stddev

FIXTURE = Path(__file__).parent / "fixtures" / "conformance" / "disc64"


def test_matches_authors_logits() -> None:
    model = GPENDiscriminator.from_original_checkpoint(FIXTURE / "model.pth")
    x = torch.from_numpy(np.load(FIXTURE / "input.npy"))
    with torch.no_grad():
        logits = model(x).logits
    assert logits.shape == (2, 1)
    assert np.abs(logits.numpy() - np.load(FIXTURE / "output.npy")).max() <= 1e-4
    assert (model.config.resolution, model.config.channel_multiplier, model.config.narrow) == (64, 1, 0.125)


def test_features_for_feature_matching() -> None:
    model = GPENDiscriminator(resolution=32, narrow=0.125).eval()
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    out = model(x, return_features=True)
    # input conv + one residual block per halving down to 4x4 + final conv
    assert len(out.features) == 1 + 3 + 1
    assert [f.shape[-1] for f in out.features] == [32, 16, 8, 4, 4]
    assert torch.equal(out.logits, model(x).logits)
    logits, feats = model(x, return_features=True, return_dict=False)
    assert torch.equal(logits, out.logits) and len(feats) == 5


def test_minibatch_stddev_groups() -> None:
    x = torch.randn(4, 8, 4, 4)
    whole = minibatch_stddev(x)  # official: the whole batch is one group
    assert whole.shape == (4, 9, 4, 4)
    assert torch.allclose(whole[:, -1], whole[0, -1].expand(4, 4, 4))
    expected = torch.sqrt(x.var(0, unbiased=False) + 1e-8).mean()
    assert torch.allclose(whole[0, -1, 0, 0], expected)
    pairs = minibatch_stddev(x, group_size=2)
    assert not torch.allclose(pairs[0, -1], pairs[1, -1])
    with pytest.raises(ValueError, match="divisible"):
        minibatch_stddev(torch.randn(3, 8, 4, 4), group_size=2)


def test_round_trip(tmp_path: Path) -> None:
    model = GPENDiscriminator(resolution=16, narrow=0.125, mbstd_group_size=2)
    model.save_pretrained(tmp_path)
    loaded = GPENDiscriminator.from_pretrained(tmp_path)
    assert loaded.config.mbstd_group_size == 2
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model.eval()(x).logits, loaded(x).logits)


def test_folded_equals_grouped(folded_vs_grouped) -> None:
    torch.manual_seed(0)
    disc = GPENDiscriminator(resolution=32, channel_multiplier=1, narrow=0.125)

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.disc = disc

        def forward(self, sample: torch.Tensor) -> torch.Tensor:
            return self.disc(sample)[0]

    folded_vs_grouped(Wrapper(), torch.rand(2, 3, 32, 32) * 2 - 1)
