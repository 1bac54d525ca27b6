"""ParseNet: the authors' outputs, the release's exact key layout, config from shapes, round trips, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from _models import assert_damage_is_listed
from accelerate import init_empty_weights

from gpen_hf import OriginalCheckpointError, ParseNet, ParseNetOutput
from gpen_hf.models.parsenet import infer_parsenet_config

AUX = Path(__file__).parent / "fixtures" / "conformance" / "aux"
FIXTURE = AUX / "parsenet64"
RELEASE_ARGS = {"in_size": 512, "out_size": 512, "min_feat_size": 32, "base_ch": 64, "parsing_ch": 19,
                "res_depth": 10, "relu_type": "LeakyReLU", "norm_type": "bn", "ch_range": (32, 256)}


def _fixture_config() -> dict:
    config = json.loads((FIXTURE / "config.json").read_text())
    assert config.pop("class") == "ParseNet"
    return config


def _meta_state_dict(**config) -> dict[str, torch.Tensor]:
    """Shapes only (parameters and buffers on the meta device): cheap even for the 512-px release."""
    with init_empty_weights(include_buffers=True):
        return ParseNet(**config).state_dict()


@pytest.mark.parametrize("how", ["from_arguments", "from_shapes"])
def test_matches_authors_output(how: str) -> None:
    if how == "from_arguments":
        model = ParseNet(**_fixture_config()).eval()
        model.load_state_dict(torch.load(FIXTURE / "model.pth", weights_only=True), strict=True)
    else:
        model = ParseNet.from_original_checkpoint(FIXTURE / "model.pth")
    x = torch.from_numpy(np.load(FIXTURE / "input.npy"))
    with torch.no_grad():
        out = model(x)
    assert isinstance(out, ParseNetOutput)
    for got, name in ((out.parsing_logits, "output0.npy"), (out.image, "output1.npy")):
        expected = np.load(FIXTURE / name)
        assert got.shape == expected.shape
        assert np.abs(got.numpy() - expected).max() <= 1e-4
    logits, image = model(x, return_dict=False)
    assert torch.equal(logits, out.parsing_logits) and torch.equal(image, out.image)


def test_release_configuration_has_the_official_keys() -> None:
    rows = [line.split("\t") for line in (AUX / "parsenet_official_keys.tsv").read_text().splitlines()]
    ours = [(k, "x".join(map(str, v.shape)), str(v.dtype).removeprefix("torch."))
            for k, v in _meta_state_dict(**RELEASE_ARGS).items()]
    assert ours == [tuple(row) for row in rows]  # same keys, shapes, dtypes and order
    defaults = {k: tuple(v.shape) for k, v in _meta_state_dict().items()}
    assert defaults == {k: tuple(v.shape) for k, v in _meta_state_dict(**RELEASE_ARGS).items()}


def test_release_config_is_inferred_from_its_shapes() -> None:
    inferred = infer_parsenet_config(_meta_state_dict(**RELEASE_ARGS), source="ParseNet-latest.pth")
    assert inferred == dict(RELEASE_ARGS, ch_range=[32, 256])


@pytest.mark.parametrize(
    "config",
    [
        {"in_size": 32, "out_size": 32, "min_feat_size": 8, "base_ch": 8, "parsing_ch": 5, "res_depth": 1,
         "ch_range": (8, 16)},
        {"in_size": 32, "out_size": 32, "min_feat_size": 8, "base_ch": 32, "res_depth": 2,
         "relu_type": "PReLU", "norm_type": "gn", "ch_range": (32, 64)},
        {"in_size": 16, "out_size": 32, "min_feat_size": 8, "base_ch": 32, "parsing_ch": 7, "res_depth": 0,
         "ch_range": (8, 64)},
    ],
    ids=["narrow-clip", "prelu-groupnorm", "upscaling"],
)
def test_other_configs_load_from_their_state_dict(config: dict) -> None:
    torch.manual_seed(0)
    model = ParseNet(**config).eval()
    for module in model.modules():  # non-trivial running statistics, so a wrong buffer would show
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    loaded = ParseNet.from_original_checkpoint(model.state_dict())
    assert not loaded.training
    for key in ("base_ch", "parsing_ch", "res_depth", "norm_type"):
        assert loaded.config[key] == model.config[key], key
    assert loaded.config.out_size // loaded.config.in_size == config["out_size"] // config["in_size"]
    x = torch.rand(2, 3, config["in_size"], config["in_size"]) * 2 - 1
    with torch.no_grad():
        expected, got = model(x), loaded(x)
    assert got.parsing_logits.shape == (2, model.config.parsing_ch, config["out_size"], config["out_size"])
    assert torch.equal(expected.parsing_logits, got.parsing_logits)
    assert torch.equal(expected.image, got.image)


def test_save_pretrained_round_trip(tmp_path: Path) -> None:
    model = ParseNet.from_original_checkpoint(FIXTURE / "model.pth")
    model.save_pretrained(tmp_path / "parsenet")
    loaded = ParseNet.from_pretrained(tmp_path / "parsenet")
    assert not loaded.training
    assert {k: v for k, v in loaded.config.items() if not k.startswith("_")} == {
        k: v for k, v in model.config.items() if not k.startswith("_")}
    x = torch.from_numpy(np.load(FIXTURE / "input.npy"))
    with torch.no_grad():
        assert torch.equal(loaded(x).parsing_logits, model(x).parsing_logits)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        ParseNet.from_pretrained(tmp_path)


def test_wrong_files_fail_clearly(tmp_path: Path) -> None:
    gpen = AUX.parent / "gen64_concat" / "model.pth"
    with pytest.raises(OriginalCheckpointError, match=r"model\.pth.*not an official ParseNet.*encoder\.0\."):
        ParseNet.from_original_checkpoint(gpen)
    state_dict = torch.load(FIXTURE / "model.pth", weights_only=True)
    del state_dict["body.1.conv2.norm.norm.running_var"]
    state_dict["out_img_conv.conv2d.weight"] = torch.zeros(3, 17, 3, 3)
    state_dict["extra.weight"] = torch.zeros(1)
    assert_damage_is_listed(ParseNet.from_original_checkpoint, state_dict, tmp_path,
                            "missing (1): body.1.conv2.norm.norm.running_var", "unexpected (1): extra.weight",
                            "out_img_conv.conv2d.weight: file (3, 17, 3, 3) vs model (3, 16, 3, 3)")
    state_dict = torch.load(FIXTURE / "model.pth", weights_only=True)
    state_dict["decoder.0.conv1.conv2d.weight"] = torch.zeros(5, 64, 3, 3)
    with pytest.raises(OriginalCheckpointError, match=r"ParseNet widths \[16, 32, 64, 5, 16\]"):
        ParseNet.from_original_checkpoint(state_dict)
    (tmp_path / "truncated.pth").write_bytes((FIXTURE / "model.pth").read_bytes()[:1000])
    with pytest.raises(OriginalCheckpointError, match=r"truncated\.pth.*cannot be read.*ParseNet-latest"):
        ParseNet.from_original_checkpoint(tmp_path / "truncated.pth")


def test_bad_input_and_config() -> None:
    model = ParseNet(in_size=32, out_size=32, min_feat_size=8, base_ch=8, res_depth=1, ch_range=(8, 16))
    with pytest.raises(ValueError, match=r"multiples of 4"):
        model(torch.zeros(1, 3, 30, 30))
    with pytest.raises(ValueError, match="norm_type"):
        ParseNet(norm_type="layer")
    with pytest.raises(ValueError, match="relu_type"):
        ParseNet(relu_type="gelu")
    with pytest.raises(ValueError, match="outside ch_range"):
        ParseNet(base_ch=16, ch_range=(32, 256))
