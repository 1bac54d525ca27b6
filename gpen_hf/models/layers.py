"""StyleGAN2 building blocks in plain PyTorch (no CUDA extensions, no JIT compilation).

Module and parameter names follow the authors' GPEN release (itself rosinality's stylegan2-pytorch layout) so
that official state_dicts load with zero key edits. Equalized learning rate: weights are stored at unit scale
and multiplied by ``1/sqrt(fan_in)`` in ``forward``.

Every layer with a costly op has two exact implementations of the same function:

* the **reference** path: what the authors' pure-PyTorch CPU code does (per-sample weights with a grouped
  convolution, ``upfirdn2d`` by zero insertion/padding/single-channel convolution, bias + leaky ReLU + gain
  as separate ops). Simple and slow; the ground truth of the tests.
* the **fast** path (default): ``channels_last`` activations (oneDNN's native layout, no reorders), FIR
  filters as depthwise convolutions with the padding inside the convolution, the activation gain ``sqrt(2)``
  and the biases folded into the convolution weights/biases, in-place leaky ReLU at inference, and the
  modulated convolution in the cheapest exact form for the batch: the style and demodulation folded into the
  weight for batch 1 (one plain convolution), modulated activations with a shared weight for larger batches
  (``conv(x * s, W) * d == conv(x, W * s * d)``).

:func:`set_reference_mode` switches a whole model to the reference path (used by tests and benchmarks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .upfirdn import blur2d, depthwise_kernel, make_kernel, upfirdn2d, upfirdn2d_reference, upsample2d

__all__ = ["make_kernel", "set_reference_mode", "upfirdn2d", "upfirdn2d_reference"]

SQRT2 = math.sqrt(2.0)
CHANNELS_LAST = torch.channels_last


def _inplace_ok() -> bool:
    """In-place activations only when no autograd graph is recorded (inference): zero risk for training."""
    return not torch.is_grad_enabled()


def _graph_mode() -> bool:
    """Recording a graph (ONNX tracing, torch.compile): no Python-side caches, no ``out=`` arguments."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


def _scaled_weight(weight: torch.Tensor, factor: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """``weight * factor`` in ``x``'s dtype, written straight in ``x``'s memory format at inference (oneDNN
    would otherwise copy an NCHW weight to channels_last on every call)."""
    if torch.is_grad_enabled() or _graph_mode() or weight.dtype != x.dtype:
        return (weight * factor).to(x.dtype)
    fmt = CHANNELS_LAST if x.is_contiguous(memory_format=CHANNELS_LAST) else torch.contiguous_format
    out = torch.empty(weight.shape, dtype=x.dtype, device=x.device, memory_format=fmt)
    return torch.mul(weight, factor, out=out)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (slope 0.2) of an already gain-scaled tensor: ``sqrt2*lrelu(v) == lrelu(sqrt2*v)``."""
    return F.leaky_relu(x, 0.2, inplace=_inplace_ok())


class _FIR(nn.Module):
    """Shared parts of the FIR modules: the official ``kernel`` buffer, the mode flag, a derived-kernel cache.

    The depthwise weight derived from ``kernel`` is cached (not in the state_dict) and rebuilt when the buffer
    is changed in place (``load_state_dict``), moved or cast, or the channel count differs.
    """

    reference: bool = False

    def __init__(self, kernel: torch.Tensor):
        super().__init__()
        self.register_buffer("kernel", kernel)
        self._cache: tuple[tuple, torch.Tensor] | None = None

    def depthwise(self, channels: int, dtype: torch.dtype) -> torch.Tensor:
        key = (channels, dtype, self.kernel.device, self.kernel.data_ptr(), self.kernel._version)
        if self._cache is None or self._cache[0] != key or _graph_mode():
            self._cache = (key, depthwise_kernel(self.kernel, channels, dtype))
        return self._cache[1]


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
        if self.reference:
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
        if self.reference:
            return upfirdn2d_reference(x, self.kernel, up=self.factor, pad=self.pad)
        return upsample2d(x, self.kernel, self.factor, self.pad)


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

    reference: bool = False

    def scaled_weight(self) -> torch.Tensor:
        """``weight * scale``; cached at inference (the mapping, style and final linears rescale ~40 M values
        per forward otherwise), recomputed when autograd records, in reference mode or when it changes."""
        if self.reference or torch.is_grad_enabled() or _graph_mode():
            return self.weight * self.scale
        key = (self.weight.data_ptr(), self.weight._version, self.weight.dtype, self.weight.device)
        cache = getattr(self, "_weight_cache", None)
        if cache is None or cache[0] != key:
            cache = self._weight_cache = (key, self.weight * self.scale)
        return cache[1]

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, stride={self.stride}, padding={self.padding}"


class ConvLayer(nn.Sequential):
    """[Blur] → EqualConv2d (stride 2 when downsampling) → [bias + scaled leaky ReLU]."""

    reference: bool = False

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reference:
            return super().forward(x)
        # Fast path: channels_last, activation gain and bias folded into the convolution, in-place lrelu.
        x = x.contiguous(memory_format=CHANNELS_LAST)
        layers = list(self)
        if isinstance(layers[0], Blur):
            x = layers.pop(0)(x)
        conv: EqualConv2d = layers[0]
        if len(layers) == 1:
            return conv(x)
        act = layers[1]
        bias = act.bias if isinstance(act, FusedLeakyReLU) else conv.bias
        bias = bias * SQRT2 if bias is not None else None
        weight = _scaled_weight(conv.weight, conv.scale * SQRT2, x)
        out = F.conv2d(x, weight, bias, stride=conv.stride, padding=conv.padding)
        return _lrelu(out)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution with optional demodulation and 2x (transposed-conv) upsampling.

    ``impl``: ``"auto"`` (fast: style folded into the weight for batch 1, modulated activations otherwise),
    ``"activations"`` (always modulate activations; any batch size in one graph, used for ONNX export) or
    ``"grouped"`` (the reference). All compute the same function.
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
        self.impl = "auto"
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
        if self.impl == "grouped":
            return self._forward_grouped(x, self.modulation(style))
        return self.forward_fused(x, style)

    def _style(self, style: torch.Tensor, device_type: str) -> torch.Tensor:
        """Modulation vector (N, in) in float32 (computed in the weights' dtype, never autocast: a tiny op that
        keeps the styles accurate in bf16 runs)."""
        with torch.autocast(device_type, enabled=False):
            return self.modulation(style.to(self.modulation.weight.dtype)).float()

    def forward_fused(
        self, x: torch.Tensor, style: torch.Tensor, gain: float = 1.0, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Fast path: ``gain * modconv(x, style) + bias`` (``bias`` per output channel, optional).

        Callers fold what follows the convolution (activation gain, bias) into it, which costs nothing here.
        """
        n = x.shape[0]
        x = x.contiguous(memory_format=CHANNELS_LAST)
        s = self._style(style, x.device.type)
        if n == 1 and self.impl == "auto":
            return self._forward_weight(x, s, gain, bias)
        return self._forward_activations(x, s, gain, bias)

    def _norms(self) -> torch.Tensor:
        """Squared norms of the scaled weight per (out, in) pair, float32: demodulation needs only these.

        Cached at inference (rebuilt when the parameter changes in place, is replaced, moved or cast);
        recomputed on every call when autograd records, so training gradients flow as usual.
        """
        w = self.weight[0]
        key = (w.data_ptr(), self.weight._version, w.dtype, w.device)
        cacheable = not torch.is_grad_enabled() and not _graph_mode()
        cache = getattr(self, "_norms_cache", None)
        if cacheable and cache is not None and cache[0] == key:
            return cache[1]
        norms = w.float().pow(2).sum(dim=(2, 3)) * self.scale**2
        self._norms_cache = (key, norms) if cacheable else None
        return norms

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
            weight = _scaled_weight(w.transpose(0, 1), outer.to(w.dtype), x)
            return self.blur(F.conv_transpose2d(x, weight, stride=2), bias)
        weight = _scaled_weight(w, (factor.view(-1, 1, 1, 1) * s[0].view(1, -1, 1, 1)).to(w.dtype), x)
        return F.conv2d(x, weight, None if bias is None else bias.to(x.dtype), padding=self.padding)

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

    def _forward_grouped(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Reference: one modulated (and demodulated) weight per sample, grouped convolution over the batch."""
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
        if self.conv.impl == "grouped":
            out = self.conv(x, style)
            if self.noise is not None:
                out = self.noise(out, noise)
            return self.activate(out)
        # Fast path: sqrt2 * lrelu(v + b) == lrelu(sqrt2 * v + sqrt2 * b); the gain and the conv half of the
        # bias go into the convolution, the noise half into one addcmul, then a single (in-place) lrelu.
        c = self.conv.out_channel
        bias = self.activate.bias * SQRT2
        out = self.conv.forward_fused(x, style, SQRT2, bias[:c])
        if self.noise is not None:
            if noise is None:
                n, _, h, w = out.shape
                noise = out.new_empty(n, c if self.noise.mode == "concat" else 1, h, w).normal_()
            scale = (self.noise.weight * SQRT2).to(out.dtype)
            noise = noise.to(out.dtype)
            if self.noise.mode == "concat":
                extra = torch.addcmul(bias[c:].to(out.dtype).view(1, -1, 1, 1), noise, scale)
                out = torch.cat((out, extra), dim=1)
            else:
                out = torch.addcmul(out, noise, scale)
        return _lrelu(out)


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
        if self.conv.impl == "grouped":
            out = self.conv(x, style) + self.bias.to(x.dtype)
        else:
            out = self.conv.forward_fused(x, style, 1.0, self.bias.view(-1))
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
    """Switch every layer of ``model`` to the reference path (``enabled=True``) or back to the fast path.

    Reference: grouped per-sample modulated convolutions, ``upfirdn2d_reference`` FIR filters and unfused
    activations, i.e. the authors' CPU implementation.
    """
    for module in model.modules():
        if isinstance(module, ModulatedConv2d):
            module.impl = "grouped" if enabled else "auto"
        elif isinstance(module, (_FIR, ConvLayer, EqualLinear)):
            module.reference = enabled
    return model
