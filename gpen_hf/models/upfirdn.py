"""FIR up/down-sampling (StyleGAN2's ``upfirdn2d``) in a reference form and in fast, exact forms.

* :func:`upfirdn2d_reference` is what the authors' pure-PyTorch CPU code does: zero insertion by reshape/pad,
  padding, a flipped kernel and one single-channel convolution over an ``(N*C, 1, H, W)`` reshape. Slow (every
  step is a full copy and the convolution sees one channel), but simple: tests check the fast forms against it.
* :func:`upfirdn2d` does the same maths as one depthwise convolution (transposed when upsampling) with the
  padding folded into the convolution where it is symmetric, so no padded copy is materialised.
* :func:`blur2d` and :func:`upsample2d` are the two shapes the networks use, written so a per-channel bias
  can ride along in the convolution for free.

All of them accept ``channels_last`` tensors; the fast forms keep that layout (oneDNN's fast path on CPU).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def make_kernel(kernel: Sequence[float]) -> torch.Tensor:
    """Separable FIR kernel (outer product of a 1-D kernel), normalised to sum 1."""
    k = torch.tensor(kernel, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d_reference(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """Upsample by zero insertion, pad, convolve with ``kernel`` (true convolution), then downsample.

    The authors' native CPU form, kept as the ground truth for the fast paths (square kernels, same factor and
    padding on both axes; negative padding crops).
    """
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    pad0, pad1 = pad
    out = x.reshape(n * c, h, 1, w, 1)
    out = F.pad(out, [0, up - 1, 0, 0, 0, up - 1])  # zero insertion: each sample followed by up-1 zeros
    out = out.reshape(n * c, 1, h * up, w * up)
    out = F.pad(out, [max(pad0, 0), max(pad1, 0), max(pad0, 0), max(pad1, 0)])
    out = out[:, :, max(-pad0, 0) : out.shape[2] - max(-pad1, 0), max(-pad0, 0) : out.shape[3] - max(-pad1, 0)]
    weight = torch.flip(kernel, [0, 1]).view(1, 1, kh, kw).to(out.dtype)
    out = F.conv2d(out, weight)
    out = out[:, :, ::down, ::down]
    return out.reshape(n, c, out.shape[2], out.shape[3])


def depthwise_kernel(kernel: torch.Tensor, channels: int, dtype: torch.dtype) -> torch.Tensor:
    """``kernel`` flipped (conv2d correlates) and repeated as a depthwise weight of shape (C, 1, kh, kw)."""
    kh, kw = kernel.shape
    channels = int(channels)  # static even when traced with a symbolic batch (ONNX export)
    return torch.flip(kernel, [0, 1]).to(dtype).reshape(1, 1, kh, kw).expand(channels, 1, kh, kw).contiguous()


def blur2d(
    x: torch.Tensor, weight: torch.Tensor, pad: tuple[int, int], bias: torch.Tensor | None = None
) -> torch.Tensor:
    """FIR filter (no resampling) with ``pad`` zeros before/after, as one depthwise conv (+ optional bias).

    ``weight`` comes from :func:`depthwise_kernel`. Symmetric padding is passed to the convolution itself.
    """
    pad0, pad1 = pad
    if pad0 != pad1 or pad0 < 0:
        x = _pad_or_crop(x, pad0, pad1)
        pad0 = 0
    return F.conv2d(x, weight.to(x.dtype), bias, padding=pad0, groups=x.shape[1])


def upsample2d(x: torch.Tensor, kernel: torch.Tensor, factor: int, pad: tuple[int, int]) -> torch.Tensor:
    """``upfirdn2d(x, kernel, up=factor, pad=pad)`` as one transposed convolution per channel.

    The channels are folded into the batch so oneDNN runs a plain (1 → 1 channel) transposed convolution
    instead of the slow grouped fallback; the crop of the transposed conv output is its ``padding``.
    """
    n, c, h, w = x.shape
    kh = kernel.shape[0]
    start = kh - 1 - pad[0]
    length = h * factor + pad[0] + pad[1] - kh + 1
    end_crop = (h - 1) * factor + kh - start - length
    if start != end_crop or start < 0 or h != w:
        return upfirdn2d(x, kernel, up=factor, pad=pad)
    weight = kernel.to(x.dtype).reshape(1, 1, kh, kh)  # conv_transpose scatters: no flip needed
    out = F.conv_transpose2d(x.reshape(n * c, 1, h, w), weight, stride=factor, padding=start)
    return out.reshape(n, c, length, length)


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """Fast, general :func:`upfirdn2d_reference`: one depthwise convolution (strided when downsampling,
    transposed when upsampling)."""
    c, h = x.shape[1], x.shape[2]
    kh = kernel.shape[0]
    pad0, pad1 = pad
    weight = depthwise_kernel(kernel, c, x.dtype)
    if up > 1:
        # Zero insertion followed by a convolution == a transposed convolution with stride `up`. Its output
        # index i is the reference's padded index i + (k - 1) - pad0; window and crop accordingly.
        out = F.conv_transpose2d(x, torch.flip(weight, [2, 3]), stride=up, groups=c)
        start = kh - 1 - pad0
        length = h * up + pad0 + pad1 - kh + 1
        out = _window(out, start, length)
        return out[:, :, ::down, ::down] if down > 1 else out
    x = _pad_or_crop(x, pad0, pad1)
    return F.conv2d(x, weight, stride=down, groups=c)


def _pad_or_crop(x: torch.Tensor, pad0: int, pad1: int) -> torch.Tensor:
    """Zero-pad (positive) or crop (negative) both spatial axes by ``pad0`` before and ``pad1`` after."""
    h, w = x.shape[-2:]
    if pad0 < 0 or pad1 < 0:
        x = x[:, :, max(-pad0, 0) : h - max(-pad1, 0), max(-pad0, 0) : w - max(-pad1, 0)]
    if pad0 > 0 or pad1 > 0:
        x = F.pad(x, (max(pad0, 0), max(pad1, 0), max(pad0, 0), max(pad1, 0)))
    return x


def _window(x: torch.Tensor, start: int, length: int) -> torch.Tensor:
    """Window ``[start, start + length)`` of both spatial axes, zero-filled outside the tensor."""
    size = x.shape[-1]
    before, after = max(-start, 0), max(start + length - size, 0)
    if before or after:
        x = F.pad(x, (before, after, before, after))
        start += before
    return x[:, :, start : start + length, start : start + length]
