"""Official checkpoints: config inferred from tensor shapes, safe loading, precise error messages."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from _models import assert_damage_is_listed
from accelerate import init_empty_weights

from gpen_hf import GPENDiscriminator, GPENModel, OriginalCheckpointError
from gpen_hf.models.original import infer_discriminator_config, infer_generator_config

FIXTURES = Path(__file__).parent / "fixtures" / "conformance"

# The authors' releases: each file's config and parameter count (GPEN-BFR-256.pth 18.9 M, GPEN-BFR-512.pth 71.0 M,
# GPEN-BFR-512-D.pth 29.0 M), checked on shapes only, built on the meta device so no memory is used.
RELEASES = {
    "GPEN-BFR-256": ({"resolution": 256, "channel_multiplier": 1, "narrow": 0.5}, 18.9e6),
    "GPEN-BFR-512": ({"resolution": 512, "channel_multiplier": 2, "narrow": 1.0}, 71.0e6),
    "GPEN-BFR-1024": ({"resolution": 1024, "channel_multiplier": 2, "narrow": 1.0}, None),
    "GPEN-BFR-2048": ({"resolution": 2048, "channel_multiplier": 2, "narrow": 1.0}, None),
}


def _meta_state_dict(cls, **config) -> dict[str, torch.Tensor]:
    """Parameters on the meta device (shapes only), buffers (the FIR kernels) real, as in a release file."""
    with init_empty_weights(include_buffers=False):
        return cls(**config).state_dict()


@pytest.mark.parametrize("name", list(RELEASES))
def test_infers_release_configs(name: str) -> None:
    config, n_params = RELEASES[name]
    state_dict = _meta_state_dict(GPENModel, **config)
    inferred = infer_generator_config(state_dict, source=name)
    expected = dict(config, style_dim=512, n_mlp=8, noise_mode="concat", blur_kernel=[1.0, 3.0, 3.0, 1.0])
    assert inferred == expected
    if n_params:
        total = sum(v.numel() for k, v in state_dict.items() if not k.endswith(".kernel"))
        assert abs(total - n_params) / n_params < 0.005


def test_infers_release_discriminator() -> None:
    state_dict = _meta_state_dict(GPENDiscriminator, resolution=512)
    assert infer_discriminator_config(state_dict) == {
        "resolution": 512, "channel_multiplier": 2, "narrow": 1.0, "blur_kernel": [1.0, 3.0, 3.0, 1.0]
    }
    total = sum(v.numel() for k, v in state_dict.items() if not k.endswith(".kernel"))
    assert abs(total - 29.0e6) / 29.0e6 < 0.005


@pytest.mark.parametrize(
    "config",
    [
        {"resolution": 32, "style_dim": 64, "n_mlp": 3, "channel_multiplier": 1, "narrow": 0.125, "noise_mode": "add"},
        {"resolution": 128, "style_dim": 48, "n_mlp": 8, "channel_multiplier": 2, "narrow": 0.25, "noise_mode": "concat"},
        {"resolution": 64, "style_dim": 32, "n_mlp": 1, "channel_multiplier": 1, "narrow": 0.0625, "noise_mode": "none"},
        {"resolution": 16, "style_dim": 32, "n_mlp": 2, "channel_multiplier": 1, "narrow": 0.3, "noise_mode": "concat"},
    ],
)
def test_other_configs_round_trip_through_pth(tmp_path: Path, config: dict) -> None:
    torch.manual_seed(0)
    model = GPENModel(**config).eval()
    path = tmp_path / "gen.pth"
    torch.save(model.state_dict(), path)
    loaded = GPENModel.from_original_checkpoint(path)
    for key, value in config.items():
        assert loaded.config[key] == pytest.approx(value), key
    x = torch.rand(2, 3, config["resolution"], config["resolution"]) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x).sample, loaded(x).sample)


def test_training_checkpoint_and_dataparallel_prefix(tmp_path: Path) -> None:
    model = GPENModel(resolution=16, style_dim=32, n_mlp=2, narrow=0.125)
    disc = GPENDiscriminator(resolution=16, narrow=0.125)
    g = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"g": g, "g_ema": g, "d": disc.state_dict()}, tmp_path / "ckpt.pth")
    assert GPENModel.from_original_checkpoint(tmp_path / "ckpt.pth").config.resolution == 16
    assert GPENDiscriminator.from_original_checkpoint(tmp_path / "ckpt.pth").config.resolution == 16


def test_overrides_replace_inferred_values() -> None:
    model = GPENModel.from_original_checkpoint(FIXTURES / "gen64_concat" / "model.pth", lr_mlp=0.02)
    assert model.config.lr_mlp == 0.02
    with pytest.raises(TypeError):
        GPENModel.from_original_checkpoint(FIXTURES / "gen64_concat" / "model.pth", not_an_option=1)


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        GPENModel.from_original_checkpoint("nope.pth")


def test_truncated_file(tmp_path: Path) -> None:
    data = (FIXTURES / "gen64_concat" / "model.pth").read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OriginalCheckpointError, match=r"truncated\.pth.*cannot be read"):
        GPENModel.from_original_checkpoint(path)


def test_random_pickle_is_refused_without_running_it(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(OriginalCheckpointError, match=r"evil\.pth"):
        GPENModel.from_original_checkpoint(path)
    assert not (tmp_path / "pwned").exists()
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(OriginalCheckpointError, match="state_dict"):
        GPENModel.from_original_checkpoint(path)


def test_state_dict_of_another_model(tmp_path: Path) -> None:
    path = tmp_path / "resnet.pth"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8)).state_dict(), path)
    with pytest.raises(OriginalCheckpointError, match=r"resnet\.pth.*missing key.*final_linear\.0\.weight"):
        GPENModel.from_original_checkpoint(path)
    with pytest.raises(OriginalCheckpointError, match="discriminator checkpoint"):
        GPENModel.from_original_checkpoint(FIXTURES / "disc64" / "model.pth")
    with pytest.raises(OriginalCheckpointError, match="generator checkpoint"):
        GPENDiscriminator.from_original_checkpoint(FIXTURES / "gen64_concat" / "model.pth")


def test_shape_mismatch_and_missing_keys_are_listed(tmp_path: Path) -> None:
    state_dict = torch.load(FIXTURES / "gen64_concat" / "model.pth", weights_only=True)
    state_dict["generator.to_rgbs.1.conv.modulation.weight"] = torch.zeros(7, 128)
    del state_dict["generator.convs.3.noise.weight"]
    state_dict["extra.weight"] = torch.zeros(1)
    assert_damage_is_listed(GPENModel.from_original_checkpoint, state_dict, tmp_path,
                            "missing (1): generator.convs.3.noise.weight", "unexpected (1): extra.weight",
                            "generator.to_rgbs.1.conv.modulation.weight: file (7, 128) vs model (128, 128)")


def test_inconsistent_widths_are_reported() -> None:
    state_dict = dict(_meta_state_dict(GPENModel, resolution=64, style_dim=32, n_mlp=1, narrow=0.125))
    state_dict["generator.convs.0.conv.weight"] = torch.empty(1, 61, 128, 3, 3, device="meta")
    with pytest.raises(OriginalCheckpointError, match="channel widths"):
        infer_generator_config(state_dict, source="odd.pth")
