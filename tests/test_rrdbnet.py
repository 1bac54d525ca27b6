"""RRDBNet (the authors' Real-ESRNet background upsampler) against the authors' code on random weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gpen_hf.models import OriginalCheckpointError
from gpen_hf.models._checkpoint import read_original_state_dict
from gpen_hf.models.rrdbnet import RRDBNet, infer_rrdbnet_config

AUX = Path(__file__).parent / "fixtures" / "conformance" / "aux"


@pytest.mark.parametrize("name", ["rrdbnet_x2", "rrdbnet_x4"])
def test_matches_the_authors_outputs_with_params_ema(name: str) -> None:
    folder = AUX / name
    model = RRDBNet.from_original_checkpoint(folder / "model.pth")
    assert model.config.scale == int(name[-1]) and model.config.num_feat == 8 and model.config.num_block == 2
    x = torch.from_numpy(np.load(folder / "input.npy"))
    with torch.no_grad():
        out = model(x).numpy()
    assert np.abs(out - np.load(folder / "output0.npy")).max() <= 1e-4
    # the file's `params` is another random net: loading it instead shows
    wrong = RRDBNet(**dict(model.config))
    wrong.load_state_dict(read_original_state_dict(folder / "model.pth", prefer=("params",)))
    with torch.no_grad():
        assert np.abs(wrong(x).numpy() - np.load(folder / "output0.npy")).max() > 1e-2


def test_the_release_configuration_has_the_key_list_of_realesrnet_x2() -> None:
    rows = [line.split("\t") for line in (AUX / "realesrnet_x2_official_keys.tsv").read_text().splitlines()]
    with torch.device("meta"):
        model = RRDBNet(num_feat=32, num_block=23, num_grow_ch=32, scale=2)
    ours = [(k, "x".join(map(str, v.shape)), str(v.dtype).removeprefix("torch.")) for k, v in
            model.state_dict().items()]
    assert ours == [tuple(r) for r in rows]
    shapes = {k: torch.empty(tuple(int(d) for d in s.split("x")), device="meta") for k, s, _ in rows}
    assert infer_rrdbnet_config(shapes) == {"num_in_ch": 3, "num_out_ch": 3, "scale": 2, "num_feat": 32,
                                            "num_block": 23, "num_grow_ch": 32}


def test_bad_files_and_inputs_are_explained(tmp_path: Path) -> None:
    torch.save({"params_ema": {"conv_first.weight": torch.zeros(8, 5, 3, 3)}}, tmp_path / "odd.pth")
    with pytest.raises(OriginalCheckpointError, match="odd.pth: not an official RRDBNet checkpoint: missing"):
        RRDBNet.from_original_checkpoint(tmp_path / "odd.pth")
    model = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=2)
    with pytest.raises(ValueError, match="divisible by 2"):
        model(torch.zeros(1, 3, 7, 8))
