"""GPENModel: the GAN Prior Embedded Network (Yang et al., CVPR 2021) as a diffusers model.

A U-Net whose decoder is a StyleGAN2 generator. The encoder's deepest feature goes through a fully connected
layer to the latent z, the mapping network turns it into w for every decoder layer, and the encoder's feature
maps take the place of StyleGAN2's noise inputs (concatenated in the paper's model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

from ._sources import ResolvesSources
from .layers import ConvLayer, EqualLinear
from .stylegan2 import StyleGAN2Generator, channel_table, log2_resolution


@dataclass
class GPENModelOutput(BaseOutput):
    """Output of :class:`GPENModel`.

    Args:
        sample: restored faces, (N, 3, H, W) RGB in about [-1, 1] (not clamped: clamp before converting to uint8).
        latent: the w vector the decoder was modulated with, (N, style_dim).
    """

    sample: torch.Tensor
    latent: torch.Tensor | None = None


class GPENModel(ResolvesSources, ModelMixin, ConfigMixin):
    """GPEN face restoration network.

    Args:
        resolution: input/output size (power of two, 8–2048). Official releases: 256, 512, 1024, 2048.
        style_dim: size of z and w (512 in the releases).
        n_mlp: layers of the mapping network (8).
        channel_multiplier: StyleGAN2 width factor for resolutions >= 64 (1 for GPEN-BFR-256, else 2).
        narrow: global width factor (0.5 for GPEN-BFR-256, else 1).
        noise_mode: how encoder features enter the decoder: ``"concat"`` (paper), ``"add"`` (ablation) or
            ``"none"`` (the "no noise input" ablation: the decoder sees only w).
        blur_kernel: FIR kernel of up/down-sampling.
        lr_mlp: learning-rate multiplier of the mapping network (equalized lr).
        face_template: the 5-point alignment the weights expect (a name of ``gpen_hf.faces.align.TEMPLATES_512``):
            ``"ffhq"`` for this project's models, ``"gpen"`` for the authors'. Not used by the network itself; the
            pipeline aligns faces with it (like a VAE's ``scaling_factor``, it travels in the config).
    """

    config_name = "config.json"
    _supports_gradient_checkpointing = False

    @register_to_config
    def __init__(
        self,
        resolution: int = 512,
        style_dim: int = 512,
        n_mlp: int = 8,
        channel_multiplier: int = 2,
        narrow: float = 1.0,
        noise_mode: str = "concat",
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
        lr_mlp: float = 0.01,
        face_template: str = "ffhq",
    ):
        super().__init__()
        self.log_size = log2_resolution(resolution)
        channels = channel_table(channel_multiplier, narrow)
        self.generator = StyleGAN2Generator(resolution, style_dim, n_mlp, channel_multiplier, narrow, noise_mode,
                                            blur_kernel, lr_mlp)
        # Encoder: ecd0 = 1x1 from RGB, ecd1..ecd(log2 R - 2) halve the resolution down to 4x4.
        self.encoder_names = [f"ecd{i}" for i in range(self.log_size - 1)]
        self.ecd0 = nn.Sequential(ConvLayer(3, channels[resolution], 1))
        in_channel = channels[resolution]
        for i in range(self.log_size, 2, -1):
            out_channel = channels[2 ** (i - 1)]
            block = nn.Sequential(ConvLayer(in_channel, out_channel, 3, downsample=True, blur_kernel=blur_kernel))
            setattr(self, self.encoder_names[self.log_size - i + 1], block)
            in_channel = out_channel
        self.final_linear = nn.Sequential(EqualLinear(channels[4] * 4 * 4, style_dim, activation="fused_lrelu"))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Encoder: image → (z, feature maps from full resolution down to 4x4)."""
        features = []
        for name in self.encoder_names:
            x = getattr(self, name)(x)
            features.append(x)
        z = self.final_linear(x.flatten(1))
        return z, features

    def decoder_noise(self, features: list[torch.Tensor]) -> list[torch.Tensor | None]:
        """Encoder features in the order the decoder layers consume them (deepest first, each used twice,
        minus one copy of the 4x4 map), or ``None`` everywhere in ``noise_mode="none"``."""
        if self.config.noise_mode == "none":
            return [None] * self.generator.num_layers
        reversed_twice = [f for f in reversed(features) for _ in range(2)]
        return reversed_twice[1:]

    def forward(self, sample: torch.Tensor, return_dict: bool = True) -> GPENModelOutput | tuple[torch.Tensor]:
        """Restore faces.

        Args:
            sample: (N, 3, R, R) RGB in [-1, 1], R = ``config.resolution``, aligned to the FFHQ-like template.
            return_dict: return a :class:`GPENModelOutput` (default) or a plain tuple ``(sample,)``.
        """
        resolution = self.config.resolution
        if sample.ndim != 4 or sample.shape[1] != 3 or sample.shape[2:] != (resolution, resolution):
            raise ValueError(
                f"GPENModel expects a (N, 3, {resolution}, {resolution}) tensor, got {tuple(sample.shape)}"
            )
        z, features = self.encode(sample)
        w = self.generator.map(z)
        image = self.generator.synthesize(w, self.decoder_noise(features))
        if not return_dict:
            return (image,)
        return GPENModelOutput(sample=image, latent=w)

    @classmethod
    def from_original_checkpoint(cls, path: str | Path, **overrides) -> GPENModel:
        """Load an official GPEN release file (e.g. ``GPEN-BFR-512.pth``), inferring the config from shapes.

        ``overrides`` replace inferred config values (e.g. ``lr_mlp``, which shapes cannot reveal). The authors'
        files were trained on their alignment, so ``face_template`` is ``"gpen"`` unless overridden.
        """
        from .original import load_original_generator

        return load_original_generator(cls, path, **{"face_template": "gpen", **overrides})
