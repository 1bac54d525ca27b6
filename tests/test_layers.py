"""Folded (fast) layer paths against the grouped (authors') forms: forward values and backward gradients."""

from __future__ import annotations

import pytest
import torch

from gpen_hf.models.layers import ConvLayer
from gpen_hf.models.modulated import ModulatedConv2d, NoiseInjection, StyledConv, ToRGB
from gpen_hf.models.upfirdn import blur2d, depthwise_kernel, upfirdn2d, upfirdn2d_reference, upsample2d

TOL = 1e-5


def _kernel(size: int = 4) -> torch.Tensor:
    """An asymmetric kernel: catches flips and off-by-one padding that a symmetric one would hide."""
    return torch.rand(size, size, generator=torch.Generator().manual_seed(size)) + 0.1


@pytest.mark.parametrize(
    ("up", "down", "pad"),
    [(1, 1, (1, 2)), (1, 1, (2, 2)), (1, 2, (2, 2)), (1, 2, (1, 1)), (2, 1, (2, 1)), (2, 1, (1, 1)),
     (1, 1, (-1, 2)), (2, 2, (1, 2))],
)
@pytest.mark.parametrize("ksize", [3, 4])
def test_upfirdn2d_matches_reference(up: int, down: int, pad: tuple[int, int], ksize: int) -> None:
    x = torch.randn(2, 3, 9, 9)
    k = _kernel(ksize)
    ref = upfirdn2d_reference(x, k, up=up, down=down, pad=pad)
    out = upfirdn2d(x, k, up=up, down=down, pad=pad)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, atol=TOL, rtol=0)
    cl = upfirdn2d(x.contiguous(memory_format=torch.channels_last), k, up=up, down=down, pad=pad)
    torch.testing.assert_close(cl, ref, atol=TOL, rtol=0)


@pytest.mark.parametrize("pad", [(1, 1), (2, 2), (2, 1), (0, 3)])
def test_blur2d_with_bias(pad: tuple[int, int]) -> None:
    x, k, bias = torch.randn(2, 5, 8, 8), _kernel(), torch.randn(5)
    ref = upfirdn2d_reference(x, k, pad=pad) + bias.view(1, -1, 1, 1)
    out = blur2d(x, depthwise_kernel(k, 5, x.dtype), pad, bias)
    torch.testing.assert_close(out, ref, atol=TOL, rtol=0)


@pytest.mark.parametrize(("ksize", "pad"), [(4, (2, 1)), (4, (1, 1)), (6, (3, 2)), (3, (1, 1))])
def test_upsample2d_matches_reference(ksize: int, pad: tuple[int, int]) -> None:
    x, k = torch.randn(2, 3, 7, 7), _kernel(ksize)
    torch.testing.assert_close(upsample2d(x, k, 2, pad), upfirdn2d_reference(x, k, up=2, pad=pad), atol=TOL,
                               rtol=0)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize(("kernel", "upsample", "demodulate"), [(3, False, True), (3, True, True), (1, False, False)])
def test_modulated_conv(batch: int, kernel: int, upsample: bool, demodulate: bool, folded_vs_grouped) -> None:
    torch.manual_seed(0)
    conv = ModulatedConv2d(6, 5, kernel, 8, demodulate=demodulate, upsample=upsample)
    x, style = torch.randn(batch, 6, 8, 8), torch.randn(batch, 8)
    out = folded_vs_grouped(conv, x, style)
    assert out.shape == (batch, 5, 16 if upsample else 8, 16 if upsample else 8)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("noise_mode", ["concat", "add", "none"])
@pytest.mark.parametrize("upsample", [False, True])
def test_styled_conv(batch: int, noise_mode: str, upsample: bool, folded_vs_grouped) -> None:
    torch.manual_seed(0)
    layer = StyledConv(6, 4, 3, 8, upsample=upsample, noise_mode=noise_mode)
    with torch.no_grad():  # non-zero noise weight and biases so every fused term is exercised
        for p in layer.parameters():
            if p.ndim == 1:
                p.normal_()
    size = 16 if upsample else 8
    noise = torch.randn(batch, 4 if noise_mode == "concat" else 1, size, size)
    x, style = torch.randn(batch, 6, 8, 8), torch.randn(batch, 8)
    if noise_mode == "none":
        folded_vs_grouped(layer, x, style)
    else:
        folded_vs_grouped(layer, x, style, noise)


@pytest.mark.parametrize("channels_last", [False, True])
def test_drawn_concat_noise_follows_the_features_layout(channels_last: bool) -> None:
    """Random noise (prior training) comes in the features' memory format, so the concatenation after it copies
    nothing into another layout; it is standard normal either way."""
    x = torch.zeros(4, 16, 32, 32)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    torch.manual_seed(0)
    noise = NoiseInjection("concat").draw(x)
    assert noise.shape == x.shape
    assert noise.is_contiguous(memory_format=torch.channels_last) == channels_last
    assert abs(noise.mean().item()) < 0.02 and abs(noise.std().item() - 1) < 0.02
    out = NoiseInjection("concat")(x, noise)
    assert out.is_contiguous(memory_format=torch.channels_last) == channels_last
    assert NoiseInjection("add").draw(x).shape == (4, 1, 32, 32)


@pytest.mark.parametrize("batch", [1, 3])
def test_to_rgb_with_skip(batch: int, folded_vs_grouped) -> None:
    torch.manual_seed(0)
    layer = ToRGB(6, 8)
    with torch.no_grad():
        layer.bias.normal_()
    folded_vs_grouped(layer, torch.randn(batch, 6, 8, 8), torch.randn(batch, 8), torch.randn(batch, 3, 4, 4))


@pytest.mark.parametrize(("kernel", "downsample", "bias", "activate"),
                         [(1, False, True, True), (3, True, True, True), (3, True, False, True), (1, True, False, False),
                          (3, False, False, True)])
def test_conv_layer(kernel: int, downsample: bool, bias: bool, activate: bool, folded_vs_grouped) -> None:
    torch.manual_seed(0)
    layer = ConvLayer(5, 6, kernel, downsample=downsample, bias=bias, activate=activate)
    with torch.no_grad():
        for p in layer.parameters():
            if p.ndim == 1:
                p.normal_()
    folded_vs_grouped(layer, torch.randn(2, 5, 8, 8))
