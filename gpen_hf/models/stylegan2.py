"""The GAN prior: StyleGAN2 mapping network + synthesis network.

The same class is GPEN's decoder (``GPENModel.generator``) and the generator of stage-1 prior training, so a
trained prior drops into GPEN unchanged. Its "noise" inputs are what GPEN replaces with encoder features.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .layers import EqualLinear, PixelNorm
from .modulated import ConstantInput, StyledConv, ToRGB

NOISE_MODES = ("concat", "add", "none")


def channel_table(channel_multiplier: int = 2, narrow: float = 1.0) -> dict[int, int]:
    """Feature channels per resolution, as in the official GPEN (StyleGAN2 widths scaled by ``narrow``)."""
    cm = channel_multiplier
    return {
        4: int(512 * narrow),
        8: int(512 * narrow),
        16: int(512 * narrow),
        32: int(512 * narrow),
        64: int(256 * cm * narrow),
        128: int(128 * cm * narrow),
        256: int(64 * cm * narrow),
        512: int(32 * cm * narrow),
        1024: int(16 * cm * narrow),
        2048: int(8 * cm * narrow),
    }


def log2_resolution(resolution: int) -> int:
    log_size = int(math.log2(resolution)) if resolution > 0 else 0
    if resolution < 8 or 2**log_size != resolution or resolution > 2048:
        raise ValueError(f"resolution must be a power of two between 8 and 2048, got {resolution}")
    return log_size


class StyleGAN2Generator(nn.Module):
    """Mapping network (``style``) and synthesis network of StyleGAN2, with GPEN's noise modes.

    Attribute names (``style``, ``input``, ``conv1``, ``to_rgb1``, ``convs``, ``to_rgbs``) are the official ones.
    """

    def __init__(
        self,
        resolution: int,
        style_dim: int = 512,
        n_mlp: int = 8,
        channel_multiplier: int = 2,
        narrow: float = 1.0,
        noise_mode: str = "concat",
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
        lr_mlp: float = 0.01,
    ):
        super().__init__()
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        self.resolution = resolution
        self.style_dim = style_dim
        self.noise_mode = noise_mode
        self.log_size = log2_resolution(resolution)
        self.num_layers = 2 * self.log_size - 3  # styled convs: one at 4x4, two per higher resolution
        self.n_latent = 2 * self.log_size - 2  # w copies: convs + the final ToRGB
        mult = 2 if noise_mode == "concat" else 1
        channels = channel_table(channel_multiplier, narrow)
        self.channels = {r: channels[r] for r in (2**i for i in range(2, self.log_size + 1))}

        self.style = nn.Sequential(
            PixelNorm(), *[EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation="fused_lrelu")
                           for _ in range(n_mlp)]
        )
        self.input = ConstantInput(channels[4])
        self.conv1 = StyledConv(channels[4], channels[4], 3, style_dim, blur_kernel=blur_kernel,
                                noise_mode=noise_mode)
        self.to_rgb1 = ToRGB(channels[4] * mult, style_dim, upsample=False, blur_kernel=blur_kernel)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_channel = channels[4]
        for i in range(3, self.log_size + 1):
            out_channel = channels[2**i]
            self.convs.append(StyledConv(in_channel * mult, out_channel, 3, style_dim, upsample=True,
                                         blur_kernel=blur_kernel, noise_mode=noise_mode))
            self.convs.append(StyledConv(out_channel * mult, out_channel, 3, style_dim, blur_kernel=blur_kernel,
                                         noise_mode=noise_mode))
            self.to_rgbs.append(ToRGB(out_channel * mult, style_dim, blur_kernel=blur_kernel))
            in_channel = out_channel

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """Mapping network: z (N, style_dim) → w (N, style_dim)."""
        return self.style(z)

    def zero_noise(self, batch: int) -> list[torch.Tensor]:
        """All-zero maps for every noise input: the synthesis without its stochastic inputs, i.e. what the
        mapping network and the convolutions draw on their own (where GPEN later feeds encoder features)."""
        like = self.input.input
        sizes = [4] + [r for r in list(self.channels)[1:] for _ in range(2)]
        width = {r: c if self.noise_mode == "concat" else 1 for r, c in self.channels.items()}
        return [like.new_zeros(batch, width[r], r, r) for r in sizes]

    def synthesize(self, latent: torch.Tensor, noise: Sequence[torch.Tensor | None] | None = None) -> torch.Tensor:
        """Synthesis network.

        Args:
            latent: w of shape (N, style_dim) (same w for every layer) or (N, n_latent, style_dim).
            noise: ``num_layers`` maps (deepest first; ``None`` entries draw random noise). GPEN passes its
                encoder features here: the 4x4 one to ``conv1``, then each resolution's feature to both convs.
        """
        if latent.ndim == 2:
            latent = latent.unsqueeze(1).expand(-1, self.n_latent, -1)
        if noise is None:
            noise = [None] * self.num_layers
        if len(noise) != self.num_layers:
            raise ValueError(f"expected {self.num_layers} noise maps, got {len(noise)}")
        out = self.input(latent.shape[0])
        out = self.conv1(out, latent[:, 0], noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv_up, conv, to_rgb, noise_up, noise_same in zip(
            self.convs[::2], self.convs[1::2], self.to_rgbs, noise[1::2], noise[2::2]
        ):
            out = conv_up(out, latent[:, i], noise_up)
            out = conv(out, latent[:, i + 1], noise_same)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip.contiguous()  # the fast path runs channels_last inside; hand back the usual NCHW layout

    def forward(
        self,
        z: torch.Tensor | Sequence[torch.Tensor],
        noise: Sequence[torch.Tensor | None] | None = None,
        mixing_index: int | None = None,
        return_latents: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """z → image. Two z give style mixing: the second one's w is used from layer ``mixing_index`` on (default:
        the middle). ``return_latents`` also returns the per-layer w (N, n_latent, style_dim), part of the graph
        (for the path-length regulariser)."""
        zs = [z] if isinstance(z, torch.Tensor) else list(z)
        ws = [self.map(s) for s in zs]
        latent = ws[0].unsqueeze(1).repeat(1, self.n_latent, 1)
        if len(ws) > 1:
            index = mixing_index if mixing_index is not None else self.n_latent // 2
            latent = torch.cat([latent[:, :index], ws[1].unsqueeze(1).repeat(1, self.n_latent - index, 1)], 1)
        image = self.synthesize(latent, noise)
        return (image, latent) if return_latents else image
