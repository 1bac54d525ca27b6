"""GPENDiscriminator: the StyleGAN2 residual discriminator the GPEN authors ship (GPEN-BFR-512-D.pth)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

from .layers import ConvLayer, EqualLinear, ResBlock
from .stylegan2 import channel_table, log2_resolution


@dataclass
class GPENDiscriminatorOutput(BaseOutput):
    """Output of :class:`GPENDiscriminator`.

    Args:
        logits: realness scores, (N, 1).
        features: with ``return_features=True``, the activations after the input layer, each residual block
            and the final conv (shallow to deep), for the feature-matching loss L_F.
    """

    logits: torch.Tensor
    features: tuple[torch.Tensor, ...] | None = None


def minibatch_stddev(x: torch.Tensor, group_size: int = 0, num_features: int = 1) -> torch.Tensor:
    """Append the feature-wise standard deviation across a group of samples as extra channel(s).

    ``group_size=0`` uses the whole batch as one group (what the official GPEN code does, so each logit
    depends on every sample of the batch); StyleGAN2 uses 4.
    """
    n, c, h, w = x.shape
    group = n if group_size <= 0 else min(group_size, n)
    if n % group:
        raise ValueError(f"batch size {n} is not divisible by the minibatch-stddev group size {group}")
    y = x.view(group, -1, num_features, c // num_features, h, w)
    y = torch.sqrt(y.float().var(0, unbiased=False) + 1e-8)
    y = y.mean([2, 3, 4], keepdim=True).squeeze(2)  # (n/group, num_features, 1, 1)
    y = y.to(x.dtype).repeat(group, 1, h, w)
    return torch.cat([x, y], dim=1)


class GPENDiscriminator(ModelMixin, ConfigMixin):
    """StyleGAN2 residual discriminator with minibatch standard deviation.

    Args:
        resolution: input size (power of two).
        channel_multiplier, narrow: widths, as for :class:`~gpen_hf.models.gpen.GPENModel`.
        blur_kernel: FIR kernel of the downsampling layers.
        mbstd_group_size: minibatch-stddev group; 0 = the whole batch (official behaviour).
    """

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        resolution: int = 512,
        channel_multiplier: int = 2,
        narrow: float = 1.0,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
        mbstd_group_size: int = 0,
    ):
        super().__init__()
        log_size = log2_resolution(resolution)
        channels = channel_table(channel_multiplier, narrow)
        convs: list[nn.Module] = [ConvLayer(3, channels[resolution], 1)]
        in_channel = channels[resolution]
        for i in range(log_size, 2, -1):
            out_channel = channels[2 ** (i - 1)]
            convs.append(ResBlock(in_channel, out_channel, blur_kernel))
            in_channel = out_channel
        self.convs = nn.Sequential(*convs)
        self.final_conv = ConvLayer(in_channel + 1, channels[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(channels[4] * 4 * 4, channels[4], activation="fused_lrelu"),
            EqualLinear(channels[4], 1),
        )

    def forward(
        self, sample: torch.Tensor, return_features: bool = False, return_dict: bool = True
    ) -> GPENDiscriminatorOutput | tuple:
        """Score images (N, 3, R, R) in [-1, 1]; optionally also return intermediate features."""
        features = []
        out = sample
        for block in self.convs:
            out = block(out)
            if return_features:
                features.append(out)
        out = minibatch_stddev(out, self.config.mbstd_group_size)
        out = self.final_conv(out)
        if return_features:
            features.append(out)
        logits = self.final_linear(out.flatten(1))
        feats = tuple(features) if return_features else None
        if not return_dict:
            return (logits, feats) if return_features else (logits,)
        return GPENDiscriminatorOutput(logits=logits, features=feats)

    @classmethod
    def from_original_checkpoint(cls, path: str | Path, **overrides) -> GPENDiscriminator:
        """Load an official discriminator file (e.g. ``GPEN-BFR-512-D.pth``), inferring the config."""
        from .original import load_original_discriminator

        return load_original_discriminator(cls, path, **overrides)
