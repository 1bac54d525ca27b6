"""StyleGAN2 building blocks in plain PyTorch (no CUDA extensions, no JIT compilation).

Module and parameter names follow the authors' GPEN release (itself rosinality's stylegan2-pytorch layout) so
that official state_dicts load with zero key edits. Equalized learning rate: weights are stored at unit scale
and multiplied by ``1/sqrt(fan_in)`` in ``forward``.

Every layer with a costly op has several exact implementations of the same function, named and switched for a
whole model in :mod:`.implementation` (``"grouped"``: the authors' form; ``"folded"``: the CPU fast path).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._ops import CHANNELS_LAST, SQRT2, cached, lrelu, scaled_weight
from .implementation import Implemented
from .upfirdn import blur2d, depthwise_kernel, make_kernel, upfirdn2d_reference, upsample2d

__all__ = [
    "Blur",
    "ConvLayer",
    "EqualConv2d",
    "EqualLinear",
    "FusedLeakyReLU",
    "PixelNorm",
    "ResBlock",
    "Upsample",
    "fused_leaky_relu",
]

class _FIR(Implemented, nn.Module):
    """Shared parts of the FIR modules: the official ``kernel`` buffer and the depthwise weight derived from it
    (cached outside the state_dict; see :func:`._ops.cached`)."""

    def __init__(self, kernel: torch.Tensor):
        super().__init__()
        self.register_buffer("kernel", kernel)

    def depthwise(self, channels: int, dtype: torch.dtype) -> torch.Tensor:
        return cached(self, "depthwise", self.kernel, lambda: depthwise_kernel(self.kernel, channels, dtype),
                      channels, dtype)


class Blur(_FIR):
    """FIR low-pass filter with explicit padding; ``upsample_factor`` rescales the kernel gain."""

    def __init__(self, kernel: Sequence[float], pad: tuple[int, int], upsample_factor: int = 1):
        k = make_kernel(kernel)
        if upsample_factor > 1:
            k = k * upsample_factor**2
        super().__init__(k)
        self.pad = pad

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """Filter ``x``; ``bias`` (per channel, optional) is added after filtering, inside the same conv."""
        if self.impl == "grouped":
            out = upfirdn2d_reference(x, self.kernel, pad=self.pad)
            return out if bias is None else out + bias.view(1, -1, 1, 1).to(out.dtype)
        x = x.contiguous(memory_format=CHANNELS_LAST)
        if bias is not None:
            bias = bias.to(x.dtype)
        return blur2d(x, self.depthwise(x.shape[1], x.dtype), self.pad, bias)


class Upsample(_FIR):
    """2x FIR upsampling (used for the RGB skip connections)."""

    def __init__(self, kernel: Sequence[float], factor: int = 2):
        k = make_kernel(kernel) * factor**2
        super().__init__(k)
        self.factor = factor
        p = k.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.impl == "grouped":
            return upfirdn2d_reference(x, self.kernel, up=self.factor, pad=self.pad)
        return upsample2d(x, self.kernel, self.factor, self.pad)


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor, negative_slope: float = 0.2) -> torch.Tensor:
    """``sqrt(2) * leaky_relu(x + bias)``: the gain keeps activations at unit variance."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape).to(x.dtype), negative_slope) * SQRT2


class FusedLeakyReLU(nn.Module):
    """Per-channel bias (optional) followed by the scaled leaky ReLU."""

    gain = SQRT2

    def __init__(self, channels: int, bias: bool = True):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is None:
            return F.leaky_relu(x, 0.2) * SQRT2
        return fused_leaky_relu(x, self.bias)

    def folded_bias(self) -> torch.Tensor | None:
        """The bias as a folded convolution adds it before :func:`._ops.lrelu`:
        ``sqrt2 * lrelu(v + b) == lrelu(sqrt2 * v + sqrt2 * b)``."""
        return None if self.bias is None else self.bias * SQRT2


class PixelNorm(nn.Module):
    """Normalise each latent vector to unit RMS (first layer of the mapping network)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate and an optional learning-rate multiplier ``lr_mul``."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activation: str | None = None,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.activation = activation
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul

    def scaled_weight(self) -> torch.Tensor:
        """``weight * scale``; cached at inference (the mapping, style and final linears rescale ~40 M values
        per forward otherwise)."""
        return cached(self, "scaled_weight", self.weight, lambda: self.weight * self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        if self.activation:
            out = F.linear(x, self.scaled_weight())
            return fused_leaky_relu(out, bias)
        return F.linear(x, self.scaled_weight(), bias=bias)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, lr_mul={self.lr_mul}, act={self.activation}"


class EqualConv2d(nn.Module):
    """Conv2d with equalized learning rate."""

    def __init__(
        self, in_channel: int, out_channel: int, kernel_size: int, stride: int = 1, padding: int = 0, bias: bool = True
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channel, in_channel, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channel * kernel_size**2)
        self.stride = stride
        self.padding = padding
        self.bias = nn.Parameter(torch.zeros(out_channel)) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0, bias: torch.Tensor | None = None) -> torch.Tensor:
        """The layer; with ``gain``/``bias``: ``gain * layer(x) + bias``, folded into the convolution's weight
        (written in ``x``'s memory format at inference) and bias, so a caller pays nothing for what follows."""
        if gain == 1.0 and bias is None:
            return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)
        if self.bias is not None:
            bias = self.bias * gain if bias is None else self.bias * gain + bias
        weight = scaled_weight(self.weight, self.scale * gain, x)
        return F.conv2d(x, weight, bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, stride={self.stride}, padding={self.padding}"


class ConvLayer(Implemented, nn.Sequential):
    """[Blur] → EqualConv2d (stride 2 when downsampling) → [bias + scaled leaky ReLU]."""

    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        downsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
        bias: bool = True,
        activate: bool = True,
    ):
        layers: list[nn.Module] = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(
            EqualConv2d(in_channel, out_channel, kernel_size, stride=stride, padding=padding, bias=bias and not activate)
        )
        if activate:
            layers.append(FusedLeakyReLU(out_channel, bias=bias))
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.impl == "grouped":
            return super().forward(x)
        # folded: channels_last, the activation's gain and bias folded into the convolution, in-place lrelu
        x = x.contiguous(memory_format=CHANNELS_LAST)
        *blur, conv, act = self if isinstance(self[-1], FusedLeakyReLU) else (*self, None)
        for layer in blur:
            x = layer(x)
        if act is None:
            return conv(x)
        return lrelu(conv(x, act.gain, act.folded_bias()))


class ResBlock(nn.Module):
    """Discriminator residual block: two 3x3 convs (the second downsamples) and a 1x1 downsampling skip."""

    def __init__(self, in_channel: int, out_channel: int, blur_kernel: Sequence[float] = (1, 3, 3, 1)):
        super().__init__()
        self.conv1 = ConvLayer(in_channel, in_channel, 3, blur_kernel=blur_kernel)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True, blur_kernel=blur_kernel)
        self.skip = ConvLayer(in_channel, out_channel, 1, downsample=True, activate=False, bias=False,
                              blur_kernel=blur_kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / SQRT2
