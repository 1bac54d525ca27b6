"""GPENModel: exact agreement with the authors' outputs, folded = grouped, caches, Hub round trips, dtypes, noise
modes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gpen_hf import GPENModel, set_implementation
from gpen_hf.models.modulated import ModulatedConv2d

FIXTURES = Path(__file__).parent / "fixtures" / "conformance"


def _conformance(name: str):
    folder = FIXTURES / name
    return folder / "model.pth", torch.from_numpy(np.load(folder / "input.npy")), np.load(folder / "output.npy")


@pytest.mark.parametrize("impl", ["folded", "grouped"])
def test_matches_authors_output(impl: str) -> None:
    path, x, expected = _conformance("gen64_concat")
    model = GPENModel.from_original_checkpoint(path)
    set_implementation(model, impl)
    with torch.no_grad():
        out = model(x).sample
    assert out.shape == expected.shape
    assert np.abs(out.numpy() - expected).max() <= 1e-4


def test_inferred_config_of_conformance_checkpoint() -> None:
    path, _, _ = _conformance("gen64_concat")
    config = json.loads((FIXTURES / "gen64_concat" / "config.json").read_text())
    model = GPENModel.from_original_checkpoint(path)
    assert model.config.resolution == config["size"]
    assert model.config.style_dim == config["style_dim"]
    assert model.config.n_mlp == config["n_mlp"]
    assert model.config.channel_multiplier == config["channel_multiplier"]
    assert model.config.narrow == config["narrow"]
    assert model.config.noise_mode == "concat"
    assert not model.training


def test_noise_weights_matter() -> None:
    """The encoder → decoder skip path is live: zeroing the injection weights changes the output."""
    path, x, expected = _conformance("gen64_concat")
    model = GPENModel.from_original_checkpoint(path)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("noise.weight"):
                p.zero_()
        out = model(x).sample
    assert np.abs(out.numpy() - expected).max() > 0.1


@pytest.mark.parametrize("noise_mode", ["concat", "add"])
def test_zero_noise_is_the_synthesis_without_noise_inputs(noise_mode: str, tiny_config: dict) -> None:
    """``zero_noise`` fits every noise input and equals switching the injections off (their scales at 0)."""
    torch.manual_seed(0)
    generator = GPENModel(**tiny_config, noise_mode=noise_mode).eval().generator
    with torch.no_grad():
        for name, p in generator.named_parameters():
            if name.endswith("noise.weight"):
                p.fill_(0.5)
        w = generator.map(torch.randn(2, tiny_config["style_dim"]))
        noisy = generator.synthesize(w)
        silent = generator.synthesize(w, generator.zero_noise(2))
        for name, p in generator.named_parameters():
            if name.endswith("noise.weight"):
                p.zero_()
        switched_off = generator.synthesize(w)
    assert (noisy - silent).abs().max() > 1e-3
    torch.testing.assert_close(silent, switched_off)


@pytest.mark.parametrize("noise_mode", ["concat", "add", "none"])
def test_forward_shapes_and_modes(noise_mode: str, tiny_config: dict) -> None:
    torch.manual_seed(0)
    model = GPENModel(**tiny_config, noise_mode=noise_mode).eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = model(x)
    assert out.sample.shape == (2, 3, 32, 32)
    assert out.latent.shape == (2, tiny_config["style_dim"])
    (tuple_out,) = model(x, return_dict=False)
    assert torch.equal(tuple_out, out.sample)
    has_noise = any(n.endswith("noise.weight") for n, _ in model.named_parameters())
    assert has_noise == (noise_mode != "none")
    # Deterministic: the encoder features replace the random noise everywhere.
    assert torch.equal(model(x).sample, out.sample)


def test_concat_doubles_activation_width(tiny_config: dict) -> None:
    concat = GPENModel(**tiny_config, noise_mode="concat")
    add = GPENModel(**tiny_config, noise_mode="add")
    c4 = concat.generator.input.input.shape[1]
    assert concat.generator.conv1.activate.bias.shape[0] == 2 * c4
    assert add.generator.conv1.activate.bias.shape[0] == c4


def test_rejects_wrong_input_shape(tiny_config: dict) -> None:
    model = GPENModel(**tiny_config)
    with pytest.raises(ValueError, match=r"\(N, 3, 32, 32\)"):
        model(torch.zeros(1, 3, 64, 64))
    with pytest.raises(ValueError, match="power of two"):
        GPENModel(resolution=100)


def test_backward_reaches_every_parameter(tiny_config: dict) -> None:
    torch.manual_seed(0)
    model = GPENModel(**tiny_config)
    with torch.no_grad():  # noise weights start at 0, which blocks gradients to the encoder features
        for name, p in model.named_parameters():
            if name.endswith("noise.weight"):
                p.fill_(0.1)
    model(torch.rand(2, 3, 32, 32) * 2 - 1).sample.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_save_load_round_trip(tmp_path: Path, tiny_config: dict) -> None:
    torch.manual_seed(0)
    model = GPENModel(**tiny_config).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "config.json").is_file()
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    loaded = GPENModel.from_pretrained(tmp_path)
    assert not loaded.training
    assert dict(loaded.config)["narrow"] == tiny_config["narrow"]
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x).sample, loaded(x).sample)
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


@pytest.mark.parametrize("low_cpu_mem_usage", [True, False])
def test_from_pretrained_options(tmp_path: Path, low_cpu_mem_usage: bool, tiny_config: dict) -> None:
    torch.manual_seed(0)
    model = GPENModel(**tiny_config)
    model.to(torch.float16).save_pretrained(tmp_path / "repo" / "gen", variant="fp16")
    assert (tmp_path / "repo" / "gen" / "diffusion_pytorch_model.fp16.safetensors").is_file()
    loaded = GPENModel.from_pretrained(tmp_path / "repo", subfolder="gen", variant="fp16",
                                       torch_dtype=torch.bfloat16, low_cpu_mem_usage=low_cpu_mem_usage)
    assert loaded.dtype == torch.bfloat16
    ref = model.to(torch.float16).state_dict()
    for key, value in loaded.state_dict().items():
        assert torch.allclose(value.float(), ref[key].float(), rtol=1e-2, atol=1e-3), key
    with torch.no_grad():
        out = loaded(torch.zeros(1, 3, 32, 32, dtype=torch.bfloat16)).sample
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()


def test_push_to_hub_is_available() -> None:
    assert callable(getattr(GPENModel, "push_to_hub", None))


@pytest.mark.parametrize("batch", [1, 3])
def test_folded_equals_grouped(batch: int, tiny_config: dict, folded_vs_grouped) -> None:
    torch.manual_seed(0)
    model = GPENModel(**tiny_config)
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

    folded_vs_grouped(Wrapper(), x, atol=1e-4, rtol=1e-3)  # gradients through ~20 layers: float32 summation order


def test_inference_caches_follow_weight_updates(tiny_config: dict) -> None:
    """The inference caches (demodulation norms, scaled linear weights, FIR kernels) must not go stale when
    weights are loaded in place."""
    torch.manual_seed(0)
    model = GPENModel(**tiny_config).eval()
    other = GPENModel(**tiny_config).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.inference_mode():
        model(x)  # fills the caches
    model.load_state_dict(other.state_dict())
    with torch.inference_mode():
        out = model(x).sample
        expected = set_implementation(other, "grouped")(x).sample
    torch.testing.assert_close(out, expected, atol=5e-5, rtol=0)


def test_fast_path_output_is_contiguous_and_implementation_switches_back(tiny_config: dict) -> None:
    model = GPENModel(**tiny_config).eval()
    set_implementation(model, "grouped")
    assert all(m.impl == "grouped" for m in model.modules() if isinstance(m, ModulatedConv2d))
    set_implementation(model, "folded")
    assert all(m.impl == "folded" for m in model.modules() if isinstance(m, ModulatedConv2d))
    with pytest.raises(ValueError, match="unknown implementation 'reference'; choose from"):
        set_implementation(model, "reference")
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).sample.is_contiguous()


def test_a_model_used_for_inference_still_trains(tiny_config: dict) -> None:
    """Inference caches are never handed to autograd (an inference-mode FIR kernel once was)."""
    model = GPENModel(**tiny_config)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.inference_mode():
        expected = model(x).sample
    out = model(x).sample
    out.sum().backward()
    torch.testing.assert_close(out.detach(), expected, atol=0, rtol=0)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
