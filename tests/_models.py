"""The tests' tiny model configurations (the one place they are written), the stand-in model the pipeline
tests share, and the check of what a loader says about a damaged official checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

#: a GPEN small enough for fast CPU tests of the model itself: 32 px, 16-d styles, 1/16 of the official widths
#: (``tiny_config`` in conftest.py)
TINY_GPEN = {"resolution": 32, "style_dim": 16, "n_mlp": 2, "channel_multiplier": 1, "narrow": 0.0625}
#: the tiny GPEN of pipeline, CLI, Hub and Space tests: 64 px (faces large enough for the detector's
#: landmarks to matter), ~1 M parameters
TINY_GPEN_64 = {"resolution": 64, "style_dim": 128, "n_mlp": 2, "channel_multiplier": 1, "narrow": 0.125}


class Identity(torch.nn.Module):
    """A 'model' that returns its input, so any change to the photo comes from the geometry and the blend."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the pipeline a device and dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def assert_damage_is_listed(load: Callable, state_dict: dict, folder: Path, *expected: str) -> None:
    """Save ``state_dict`` (damaged by the caller) as ``folder/damaged.pth``; ``load`` must refuse it with an
    ``OriginalCheckpointError`` naming the file and holding every ``expected`` line."""
    from gpen_hf import OriginalCheckpointError

    torch.save(state_dict, folder / "damaged.pth")
    with pytest.raises(OriginalCheckpointError) as info:
        load(folder / "damaged.pth")
    message = str(info.value)
    assert "damaged.pth" in message
    for line in expected:
        assert line in message
