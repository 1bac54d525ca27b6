"""Fast layer paths against the reference (authors') forms: forward values and backward gradients."""

from __future__ import annotations

import pytest
import torch

from gpen_hf import GPENDiscriminator, GPENModel, set_implementation
from gpen_hf.models.layers import ConvLayer
from gpen_hf.models.modulated import ModulatedConv2d, StyledConv, ToRGB
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


def _folded_and_grouped(module: torch.nn.Module, *inputs: torch.Tensor):
    """Forward + backward folded and grouped; returns ((out, grads) folded, (out, grads) grouped)."""
    results = []
    for impl in ("folded", "grouped"):
        set_implementation(module, impl)
        module.zero_grad()
        leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
        out = module(*leaves)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads = [t.grad for t in leaves] + [p.grad.clone() for p in module.parameters() if p.grad is not None]
        results.append((out.detach(), grads))
    return results


def _assert_same(fast, ref, atol: float = TOL, rtol: float = 1e-4) -> None:
    torch.testing.assert_close(fast[0], ref[0], atol=atol, rtol=0)
    assert len(fast[1]) == len(ref[1]) and len(ref[1]) > 1
    for g_fast, g_ref in zip(fast[1], ref[1]):
        torch.testing.assert_close(g_fast, g_ref, atol=atol, rtol=rtol)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize(("kernel", "upsample", "demodulate"), [(3, False, True), (3, True, True), (1, False, False)])
def test_modulated_conv(batch: int, kernel: int, upsample: bool, demodulate: bool) -> None:
    torch.manual_seed(0)
    conv = ModulatedConv2d(6, 5, kernel, 8, demodulate=demodulate, upsample=upsample)
    x, style = torch.randn(batch, 6, 8, 8), torch.randn(batch, 8)
    fast, ref = _folded_and_grouped(conv, x, style)
    assert fast[0].shape == (batch, 5, 16 if upsample else 8, 16 if upsample else 8)
    _assert_same(fast, ref)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("noise_mode", ["concat", "add", "none"])
@pytest.mark.parametrize("upsample", [False, True])
def test_styled_conv(batch: int, noise_mode: str, upsample: bool) -> None:
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
        fast, ref = _folded_and_grouped(layer, x, style)
    else:
        fast, ref = _folded_and_grouped(layer, x, style, noise)
    _assert_same(fast, ref)


@pytest.mark.parametrize("batch", [1, 3])
def test_to_rgb_with_skip(batch: int) -> None:
    torch.manual_seed(0)
    layer = ToRGB(6, 8)
    with torch.no_grad():
        layer.bias.normal_()
    fast, ref = _folded_and_grouped(layer, torch.randn(batch, 6, 8, 8), torch.randn(batch, 8),
                                    torch.randn(batch, 3, 4, 4))
    _assert_same(fast, ref)


@pytest.mark.parametrize(("kernel", "downsample", "bias", "activate"),
                         [(1, False, True, True), (3, True, True, True), (3, True, False, True), (1, True, False, False),
                          (3, False, False, True)])
def test_conv_layer(kernel: int, downsample: bool, bias: bool, activate: bool) -> None:
    torch.manual_seed(0)
    layer = ConvLayer(5, 6, kernel, downsample=downsample, bias=bias, activate=activate)
    with torch.no_grad():
        for p in layer.parameters():
            if p.ndim == 1:
                p.normal_()
    fast, ref = _folded_and_grouped(layer, torch.randn(2, 5, 8, 8))
    _assert_same(fast, ref)


TINY = {"resolution": 32, "style_dim": 16, "n_mlp": 2, "channel_multiplier": 1, "narrow": 0.0625}


@pytest.mark.parametrize("batch", [1, 3])
def test_gpen_model_fast_equals_reference(batch: int) -> None:
    torch.manual_seed(0)
    model = GPENModel(**TINY)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("noise.weight"):
                p.fill_(0.7)  # official init is 0: make the encoder → decoder path count
    x = torch.rand(batch, 3, 32, 32) * 2 - 1

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, sample: torch.Tensor) -> torch.Tensor:
            return self.model(sample).sample

    fast, ref = _folded_and_grouped(Wrapper(), x)
    _assert_same(fast, ref, atol=1e-4, rtol=1e-3)  # gradients through ~20 layers: float32 summation order


def test_discriminator_fast_equals_reference() -> None:
    torch.manual_seed(0)
    disc = GPENDiscriminator(resolution=32, channel_multiplier=1, narrow=0.125)

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.disc = disc

        def forward(self, sample: torch.Tensor) -> torch.Tensor:
            return self.disc(sample)[0]

    fast, ref = _folded_and_grouped(Wrapper(), torch.rand(2, 3, 32, 32) * 2 - 1)
    _assert_same(fast, ref)


def test_inference_caches_follow_weight_updates() -> None:
    """The inference caches (demodulation norms, scaled linear weights, FIR kernels) must not go stale when
    weights are loaded in place."""
    torch.manual_seed(0)
    model = GPENModel(**TINY).eval()
    other = GPENModel(**TINY).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.inference_mode():
        model(x)  # fills the caches
    model.load_state_dict(other.state_dict())
    with torch.inference_mode():
        out = model(x).sample
        expected = set_implementation(other, "grouped")(x).sample
    torch.testing.assert_close(out, expected, atol=5e-5, rtol=0)


def test_fast_path_output_is_contiguous_and_implementation_switches_back() -> None:
    model = GPENModel(**TINY).eval()
    set_implementation(model, "grouped")
    assert all(m.impl == "grouped" for m in model.modules() if isinstance(m, ModulatedConv2d))
    set_implementation(model, "folded")
    assert all(m.impl == "folded" for m in model.modules() if isinstance(m, ModulatedConv2d))
    with pytest.raises(ValueError, match="unknown implementation 'reference'; choose from"):
        set_implementation(model, "reference")
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).sample.is_contiguous()


def test_a_model_used_for_inference_still_trains() -> None:
    """Inference caches are never handed to autograd (an inference-mode FIR kernel once was)."""
    model = GPENModel(**TINY)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.inference_mode():
        expected = model(x).sample
    out = model(x).sample
    out.sum().backward()
    torch.testing.assert_close(out.detach(), expected, atol=0, rtol=0)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
