"""StyleGAN2 building blocks in plain PyTorch (no CUDA extensions, no JIT compilation).

Module and parameter names follow the authors' GPEN release (itself rosinality's stylegan2-pytorch layout) so
that official state_dicts load with zero key edits. Equalized learning rate: weights are stored at unit scale
and multiplied by ``1/sqrt(fan_in)`` in ``forward``.

Two exact implementations of the modulated convolution live side by side:

* ``"grouped"`` — the reference form of the paper/official code: one weight per sample, grouped convolution.
* ``"activations"`` — modulate the input activations and demodulate the outputs, sharing one weight across
  the batch. The same maths (``conv(x * s, W) * d == conv(x, W * s * d)``), several times cheaper on CPU.

:func:`set_reference_mode` switches a whole model to the reference path (used by tests and benchmarks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def make_kernel(kernel: Sequence[float]) -> torch.Tensor:
    """Separable FIR kernel (outer product of a 1-D kernel), normalised to sum 1."""
    k = torch.tensor(kernel, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """Upsample by zero insertion, pad, convolve with ``kernel`` (true convolution), then downsample.

    Same semantics as StyleGAN2's ``upfirdn2d`` (native path) for square kernels and symmetric factors; done as
    one depthwise convolution (strided when downsampling, transposed when upsampling).
    """
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    pad0, pad1 = pad
    weight = torch.flip(kernel, [0, 1]).to(x.dtype).view(1, 1, kh, kw).expand(c, 1, kh, kw)
    if up > 1:
        # Zero insertion followed by a convolution == a transposed convolution with stride `up`.
        # The transposed conv output has length (h-1)*up + k; zero insertion + padding needs
        # h*up + pad0 + pad1 - k + 1. Pad/crop the input side to align them.
        out = F.conv_transpose2d(x, torch.flip(weight, [2, 3]), stride=up, groups=c)
        # out[i] corresponds to upsampled-and-padded index i + (k - 1) - pad0 of the reference.
        start = kh - 1 - pad0
        length = h * up + pad0 + pad1 - kh + 1
        out = _crop_or_pad(out, start, length)
        return out[:, :, ::down, ::down] if down > 1 else out
    if pad0 < 0 or pad1 < 0:
        x = x[:, :, max(-pad0, 0) : h - max(-pad1, 0), max(-pad0, 0) : w - max(-pad1, 0)]
        pad0, pad1 = max(pad0, 0), max(pad1, 0)
    x = F.pad(x, (pad0, pad1, pad0, pad1))
    return F.conv2d(x, weight, stride=down, groups=c)


def _crop_or_pad(x: torch.Tensor, start: int, length: int) -> torch.Tensor:
    """Window ``[start, start + length)`` of both spatial axes, zero-filled outside the tensor."""
    size = x.shape[-1]
    before, after = max(-start, 0), max(start + length - size, 0)
    if before or after:
        x = F.pad(x, (before, after, before, after))
        start += before
    return x[:, :, start : start + length, start : start + length]


class Blur(nn.Module):
    """FIR low-pass filter with explicit padding; ``upsample_factor`` rescales the kernel gain."""

    def __init__(self, kernel: Sequence[float], pad: tuple[int, int], upsample_factor: int = 1):
        super().__init__()
        k = make_kernel(kernel)
        if upsample_factor > 1:
            k = k * upsample_factor**2
        self.register_buffer("kernel", k)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """2x FIR upsampling (used for the RGB skip connections)."""

    def __init__(self, kernel: Sequence[float], factor: int = 2):
        super().__init__()
        self.factor = factor
        k = make_kernel(kernel) * factor**2
        self.register_buffer("kernel", k)
        p = k.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor, negative_slope: float = 0.2) -> torch.Tensor:
    """``sqrt(2) * leaky_relu(x + bias)``: the gain keeps activations at unit variance."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape).to(x.dtype), negative_slope) * SQRT2


class FusedLeakyReLU(nn.Module):
    """Per-channel bias followed by the scaled leaky ReLU."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class ScaledLeakyReLU(nn.Module):
    def __init__(self, negative_slope: float = 0.2):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, self.negative_slope) * SQRT2


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        if self.activation:
            out = F.linear(x, self.weight * self.scale)
            return fused_leaky_relu(out, bias)
        return F.linear(x, self.weight * self.scale, bias=bias)

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, stride={self.stride}, padding={self.padding}"


class ConvLayer(nn.Sequential):
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
            layers.append(FusedLeakyReLU(out_channel) if bias else ScaledLeakyReLU(0.2))
        super().__init__(*layers)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution with optional demodulation and 2x (transposed-conv) upsampling.

    ``impl`` selects ``"activations"`` (fast, shared weight) or ``"grouped"`` (reference, per-sample weights);
    both compute the same function.
    """

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
        self.impl = "activations"
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

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        style = self.modulation(style)  # (N, in)
        if self.impl == "grouped":
            return self._forward_grouped(x, style)
        return self._forward_activations(x, style)

    def _demodulation(self, style: torch.Tensor) -> torch.Tensor:
        """Per-sample, per-output-channel 1/||W * s||, computed from squared norms (no per-sample weights)."""
        w2 = (self.weight[0].float() * self.scale).pow(2).sum(dim=(2, 3))  # (out, in)
        return torch.rsqrt(style.float().pow(2) @ w2.t() + self.eps)  # (N, out)

    def _forward_activations(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        weight = (self.weight[0] * self.scale).to(x.dtype)
        x = x * style.to(x.dtype).view(n, -1, 1, 1)
        if self.upsample:
            out = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            out = out * self._demodulation(style).to(out.dtype).view(n, -1, 1, 1)
        if self.upsample:
            out = self.blur(out)
        return out

    def _forward_grouped(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
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
            return self.blur(out)
        weight = weight.view(n * self.out_channel, c, k, k)
        out = F.conv2d(x, weight.to(x.dtype), padding=self.padding, groups=n)
        return out.view(n, self.out_channel, *out.shape[2:])


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

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:
            n, c, h, w = x.shape
            noise = x.new_empty(n, c if self.mode == "concat" else 1, h, w).normal_()
        noise = self.weight.to(x.dtype) * noise.to(x.dtype)
        if self.mode == "concat":
            return torch.cat((x, noise), dim=1)
        return x + noise


class ConstantInput(nn.Module):
    """Learned 4x4 constant that starts the synthesis network."""

    def __init__(self, channel: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


class StyledConv(nn.Module):
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
        out = self.conv(x, style)
        if self.noise is not None:
            out = self.noise(out, noise)
        return self.activate(out)


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
        out = self.conv(x, style) + self.bias.to(x.dtype)
        if skip is not None:
            out = out + self.upsample(skip)
        return out


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


def set_reference_mode(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Use the official per-sample grouped modulated convolution everywhere in ``model`` (or switch back)."""
    for module in model.modules():
        if isinstance(module, ModulatedConv2d):
            module.impl = "grouped" if enabled else "activations"
    return model
