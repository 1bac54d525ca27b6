"""Winograd F(m x m, 3 x 3): against F.conv2d on random tensors, in ModulatedConv2d, and in whole models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gpen_hf import GPENModel, set_implementation
from gpen_hf.models import modulated
from gpen_hf.models.modulated import ModulatedConv2d, StyledConv
from gpen_hf.models.winograd import winograd_conv2d, winograd_tile, winograd_weight

FIXTURES = Path(__file__).parent / "fixtures" / "conformance"


@pytest.fixture
def winograd_everywhere(monkeypatch, request):
    """Tiny test layers are below the size rule: make every 3x3 stride-1 modulated conv use F(m x m)."""
    monkeypatch.setattr(modulated, "winograd_tile", lambda *shape: request.param)
    return request.param


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize(("batch", "c_in", "c_out", "h", "w"),
                         [(1, 8, 5, 7, 9), (2, 16, 32, 16, 16), (3, 4, 6, 1, 1), (1, 3, 2, 5, 4), (2, 64, 16, 13, 20)])
def test_matches_conv2d(m: int, batch: int, c_in: int, c_out: int, h: int, w: int) -> None:
    """Any size (partial border tiles), batch, and the scales/bias that ride along in the copies."""
    g = torch.Generator().manual_seed(m * 100 + c_in)
    x = torch.randn(batch, c_in, h, w, generator=g)
    weight = torch.randn(c_out, c_in, 3, 3, generator=g) / (3 * c_in**0.5)
    bias = torch.randn(c_out, generator=g)
    s_in, s_out = torch.rand(batch, c_in, generator=g) + 0.5, torch.rand(batch, c_out, generator=g) + 0.5
    u = winograd_weight(weight, m)
    assert u.shape == ((m + 2) ** 2, c_in, c_out)
    plain = winograd_conv2d(x, u, m)
    torch.testing.assert_close(plain, F.conv2d(x, weight, padding=1), atol=5e-5, rtol=0)
    ref = F.conv2d(x * s_in.view(batch, c_in, 1, 1), weight, padding=1) * s_out.view(batch, c_out, 1, 1)
    ref = ref + bias.view(1, -1, 1, 1)
    torch.testing.assert_close(winograd_conv2d(x, u, m, bias, s_in, s_out), ref, atol=5e-5, rtol=0)
    channels_last = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(winograd_conv2d(channels_last, u, m, bias), F.conv2d(x, weight, bias, padding=1),
                               atol=5e-5, rtol=0)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="tile size"):
        winograd_weight(torch.randn(2, 2, 3, 3), 3)
    with pytest.raises(ValueError, match=r"\(C_out, C_in, 3, 3\)"):
        winograd_weight(torch.randn(2, 2, 5, 5), 4)
    with pytest.raises(ValueError, match="do not fit"):
        winograd_conv2d(torch.randn(1, 3, 8, 8), winograd_weight(torch.randn(2, 4, 3, 3), 4), 4)


def test_tile_rule_is_shape_only() -> None:
    """Wide, big layers of GPEN-512 get F(4x4); narrow or small ones stay direct."""
    assert winograd_tile(1024, 512, 64, 64) == winograd_tile(512, 256, 128, 128) == 4
    assert winograd_tile(128, 64, 512, 512) is None
    assert winograd_tile(1024, 512, 16, 16) is None


@pytest.mark.parametrize("winograd_everywhere", [2, 4], indirect=True)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_forward_and_backward(winograd_everywhere: int, batch: int, demodulate: bool) -> None:
    """Winograd mode against the authors' grouped form, values and gradients (training may use it too)."""
    torch.manual_seed(0)
    conv = ModulatedConv2d(6, 5, 3, 8, demodulate=demodulate)
    x, style = torch.randn(batch, 6, 9, 7), torch.randn(batch, 8)
    results = []
    for impl in ("winograd", "grouped"):
        conv.impl = impl
        conv.zero_grad()
        leaves = [x.clone().requires_grad_(True), style.clone().requires_grad_(True)]
        out = conv(*leaves)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append((out.detach(), [t.grad for t in leaves] + [conv.weight.grad.clone()]))
    (out_w, grads_w), (out_g, grads_g) = results
    torch.testing.assert_close(out_w, out_g, atol=2e-5, rtol=0)
    for a, b in zip(grads_w, grads_g):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert not [k for k in vars(conv) if k.startswith("_cached_winograd")]  # never cached in training


@pytest.mark.parametrize("winograd_everywhere", [4], indirect=True)
def test_cached_weight_follows_parameter(winograd_everywhere: int) -> None:
    """The transformed weight is cached at inference and rebuilt when the parameter changes in place."""
    torch.manual_seed(0)
    layer = StyledConv(6, 4, 3, 8, noise_mode="concat").eval()
    x, style, noise = torch.randn(1, 6, 8, 8), torch.randn(1, 8), torch.randn(1, 4, 8, 8)
    set_implementation(layer, "winograd")
    with torch.inference_mode():
        first = layer(x, style, noise)
    with torch.no_grad():
        layer.conv.weight.mul_(-1)
    with torch.inference_mode():
        flipped = layer(x, style, noise)
        set_implementation(layer, "grouped")
        expected = layer(x, style, noise)
    torch.testing.assert_close(flipped, expected, atol=2e-5, rtol=0)
    assert not torch.allclose(first, flipped)


@pytest.mark.parametrize("winograd_everywhere", [2, 4], indirect=True)
def test_conformance_fixture(winograd_everywhere: int) -> None:
    """The authors' recorded output, with every 3x3 decoder conv in Winograd form: within 1e-4."""
    folder = FIXTURES / "gen64_concat"
    model = GPENModel.from_original_checkpoint(folder / "model.pth")
    x, expected = torch.from_numpy(np.load(folder / "input.npy")), np.load(folder / "output.npy")
    set_implementation(model, "winograd")
    with torch.inference_mode():
        out = model(x).sample
    assert np.abs(out.numpy() - expected).max() <= 1e-4
    used = [m for m in model.modules() if f"_cached_winograd{winograd_everywhere}" in vars(m)]
    assert len(used) == model.generator.log_size - 1  # every 3x3 decoder conv that does not upsample
