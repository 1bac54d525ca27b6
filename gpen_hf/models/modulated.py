"""Style-modulated StyleGAN2 layers: modulated convolution, noise injection, styled conv, ToRGB.

``ModulatedConv2d`` and ``StyledConv`` have the implementations of :mod:`.implementation`: ``"grouped"`` (the
authors': per-sample weights, grouped convolution, unfused bias/activation) and ``"folded"`` (the fast path).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._ops import CHANNELS_LAST, cached, lrelu, scaled_weight
from .implementation import Implemented
from .layers import Blur, EqualLinear, FusedLeakyReLU, Upsample
from .winograd import winograd_conv2d, winograd_tile, winograd_weight

__all__ = ["ConstantInput", "ModulatedConv2d", "NoiseInjection", "StyledConv", "ToRGB"]


class ModulatedConv2d(Implemented, nn.Module):
    """StyleGAN2 modulated convolution with optional demodulation and 2x (transposed-conv) upsampling.

    ``impl``: ``"folded"`` (style folded into the weight for batch 1, modulated activations with a shared weight
    otherwise), ``"grouped"`` (the authors' per-sample weights) or ``"winograd"`` (3x3 convolutions of the shapes
    :func:`.winograd.winograd_tile` picks as Winograd F(4x4, 3x3), the rest folded). All compute the same
    function.
    """

    implementations = ("grouped", "folded", "winograd")

    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        upsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
    ):
        super().__init__()
        self.eps = 1e-8
        self.kernel_size = kernel_size
        self.in_channel = in_channel
        self.out_channel = out_channel
        self.upsample = upsample
        self.demodulate = demodulate
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1 / math.sqrt(in_channel * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channel}, {self.out_channel}, {self.kernel_size}, "
            f"upsample={self.upsample}, demodulate={self.demodulate}, impl={self.impl}"
        )

    def forward(self, x: torch.Tensor, style: torch.Tensor, gain: float = 1.0,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        """``gain * modconv(x, style) + bias`` (``bias`` per output channel, optional).

        Callers fold what follows the convolution (activation gain, bias) into it, which costs nothing in the
        folded form.
        """
        if self.impl == "grouped":
            out = self._forward_grouped(x, self.modulation(style), bias)
            return out if gain == 1.0 else out * gain
        x = x.contiguous(memory_format=CHANNELS_LAST)
        s = self._style(style, x.device.type)
        if self.impl == "winograd" and not self.upsample and self.kernel_size == 3:
            m = winograd_tile(self.in_channel, self.out_channel, x.shape[2], x.shape[3])
            if m is not None:
                return self._forward_winograd(x, s, gain, bias, m)
        if x.shape[0] == 1:
            return self._forward_weight(x, s, gain, bias)
        return self._forward_activations(x, s, gain, bias)

    def _style(self, style: torch.Tensor, device_type: str) -> torch.Tensor:
        """Modulation vector (N, in) in float32 (computed in the weights' dtype, never autocast: a tiny op that
        keeps the styles accurate in bf16 runs)."""
        with torch.autocast(device_type, enabled=False):
            return self.modulation(style.to(self.modulation.weight.dtype)).float()

    def _norms(self) -> torch.Tensor:
        """Squared norms of the scaled weight per (out, in) pair, float32: demodulation needs only these
        (cached at inference, see :func:`._ops.cached`)."""
        return cached(self, "norms", self.weight,
                      lambda: self.weight[0].float().pow(2).sum(dim=(2, 3)) * self.scale**2)

    def _factor(self, s: torch.Tensor, gain: float) -> torch.Tensor:
        """Per-sample, per-output-channel output scale: ``gain / ||W * s||`` (demodulation) or ``gain``."""
        if self.demodulate:
            return torch.rsqrt(s.pow(2) @ self._norms().t() + self.eps) * gain  # (N, out)
        return s.new_full((1, self.out_channel), gain)  # broadcasts over the batch

    def _forward_weight(self, x: torch.Tensor, s: torch.Tensor, gain: float, bias: torch.Tensor | None):
        """Batch 1: scale, style, demodulation and gain folded into the weight (one pass over it), then one
        plain convolution."""
        factor = self._factor(s, gain)[0] * self.scale
        w = self.weight[0]
        if self.upsample:  # conv_transpose2d wants (in, out, k, k)
            outer = s[0].view(-1, 1, 1, 1) * factor.view(1, -1, 1, 1)
            weight = scaled_weight(w.transpose(0, 1), outer.to(w.dtype), x)
            return self.blur(F.conv_transpose2d(x, weight, stride=2), bias)
        weight = scaled_weight(w, (factor.view(-1, 1, 1, 1) * s[0].view(1, -1, 1, 1)).to(w.dtype), x)
        return F.conv2d(x, weight, None if bias is None else bias.to(x.dtype), padding=self.padding)

    def _forward_winograd(self, x: torch.Tensor, s: torch.Tensor, gain: float, bias: torch.Tensor | None, m: int):
        """Winograd F(m x m, 3 x 3) with the shared, transformed weight (cached at inference, see
        :func:`._ops.cached`); style and demodulation scale the input and output inside the copies Winograd
        makes anyway."""
        u = cached(self, f"winograd{m}", self.weight, lambda: winograd_weight(self.weight[0] * self.scale, m))
        return winograd_conv2d(x, u, m, bias, s, self._factor(s, gain))

    def _forward_activations(self, x: torch.Tensor, s: torch.Tensor, gain: float, bias: torch.Tensor | None):
        """Any batch: modulate the input, convolve with the shared weight, demodulate (and scale) the output."""
        n = x.shape[0]
        factor = self._factor(s, gain)
        factor = factor.view(factor.shape[0], -1, 1, 1)
        weight = (self.weight[0] * self.scale).to(x.dtype)  # a fresh (aligned) tensor: results never depend
        # on where the parameter happens to sit in memory (oneDNN/BLAS blockings follow alignment)
        x = x * s.to(x.dtype).view(n, -1, 1, 1)
        if self.upsample:
            out = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
            return self.blur(out * factor.to(out.dtype), bias)
        out = F.conv2d(x, weight, padding=self.padding)
        if bias is None:
            return out * factor.to(out.dtype)
        return torch.addcmul(bias.to(out.dtype).view(1, -1, 1, 1), out, factor.to(out.dtype))

    def _forward_grouped(self, x: torch.Tensor, style: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """The authors' form: one modulated (and demodulated) weight per sample, grouped convolution over the
        batch; then ``bias``, if given."""
        n, c, h, w = x.shape
        k = self.kernel_size
        weight = self.scale * self.weight * style.view(n, 1, c, 1, 1)
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + self.eps)
            weight = weight * demod.view(n, self.out_channel, 1, 1, 1)
        x = x.reshape(1, n * c, h, w)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(n * c, self.out_channel, k, k)
            out = F.conv_transpose2d(x, weight.to(x.dtype), padding=0, stride=2, groups=n)
            out = out.view(n, self.out_channel, *out.shape[2:])
            return self.blur(out, bias)
        weight = weight.view(n * self.out_channel, c, k, k)
        out = F.conv2d(x, weight.to(x.dtype), padding=self.padding, groups=n)
        out = out.view(n, self.out_channel, *out.shape[2:])
        return out if bias is None else out + bias.view(1, -1, 1, 1).to(x.dtype)


class NoiseInjection(nn.Module):
    """Inject a (scaled) noise map: concatenated to the features (``concat``) or added to them (``add``).

    In GPEN the "noise" is an encoder feature map of the same resolution. Without a given map a random one is
    drawn (stage-1 prior training): one channel for ``add`` (as StyleGAN2), one per feature channel for
    ``concat`` so the layer's width matches what the encoder will feed later.
    """

    def __init__(self, mode: str = "concat"):
        super().__init__()
        if mode not in ("concat", "add"):
            raise ValueError(f"NoiseInjection mode must be 'concat' or 'add', got {mode!r}")
        self.mode = mode
        self.weight = nn.Parameter(torch.zeros(1))

    def draw(self, x: torch.Tensor) -> torch.Tensor:
        """Random noise for the features ``x`` (N, C, H, W), for training without encoder features."""
        n, c, h, w = x.shape
        if self.mode == "add":
            return x.new_empty(n, 1, h, w).normal_()
        if x.is_contiguous(memory_format=CHANNELS_LAST):  # x's layout: the concatenation then needs no copy
            return x.new_empty(n, h, w, c).normal_().permute(0, 3, 1, 2)  # (normal_ is slow on strided views)
        return x.new_empty(n, c, h, w).normal_()

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:
            noise = self.draw(x)
        noise = self.weight.to(x.dtype) * noise.to(x.dtype)
        if self.mode == "concat":
            return torch.cat((x, noise), dim=1)
        return x + noise

    def forward_folded(self, x: torch.Tensor, noise: torch.Tensor | None, gain: float,
                       bias: torch.Tensor) -> torch.Tensor:
        """``gain * forward(x / gain, noise) + bias``, for features ``x`` already scaled by ``gain``; ``bias`` is
        the bias of the injected channels (``concat``; nothing to add for ``add``)."""
        if noise is None:
            noise = self.draw(x)
        scale = (self.weight * gain).to(x.dtype)
        noise = noise.to(x.dtype)
        if self.mode == "concat":
            return torch.cat((x, torch.addcmul(bias.to(x.dtype).view(1, -1, 1, 1), noise, scale)), dim=1)
        return torch.addcmul(x, noise, scale)


class ConstantInput(nn.Module):
    """Learned 4x4 constant that starts the synthesis network."""

    def __init__(self, channel: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


class StyledConv(Implemented, nn.Module):
    """Modulated conv → noise injection (concat / add / none) → bias + scaled leaky ReLU."""

    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        style_dim: int,
        upsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
        noise_mode: str = "concat",
    ):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel)
        self.noise = NoiseInjection(noise_mode) if noise_mode != "none" else None
        self.activate = FusedLeakyReLU(out_channel * (2 if noise_mode == "concat" else 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if self.impl == "grouped":
            out = self.conv(x, style)
            if self.noise is not None:
                out = self.noise(out, noise)
            return self.activate(out)
        # folded: the activation's gain and the conv half of its bias go into the convolution, the noise half
        # into the injection, then a single (in-place) lrelu
        c, gain, bias = self.conv.out_channel, self.activate.gain, self.activate.folded_bias()
        out = self.conv(x, style, gain, bias[:c])
        if self.noise is not None:
            out = self.noise.forward_folded(out, noise, gain, bias[c:])
        return lrelu(out)


class ToRGB(nn.Module):
    """Modulated 1x1 conv to RGB (no demodulation) + bias, plus the FIR-upsampled previous RGB."""

    def __init__(self, in_channel: int, style_dim: int, upsample: bool = True,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1)):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style, bias=self.bias.view(-1))
        if skip is not None:
            out = out + self.upsample(skip)
        return out
