"""Stand-in models the pipeline tests share: they make what the paste-back does visible."""

from __future__ import annotations

import torch


class Identity(torch.nn.Module):
    """A 'model' that returns its input, so any change to the photo comes from the geometry and the blend."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the pipeline a device and dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
