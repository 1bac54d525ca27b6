"""`gpen-hf convert`: official file → config.json + safetensors + model card, loadable by from_pretrained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gpen_hf import GPENDiscriminator, GPENModel
from gpen_hf.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "conformance"


def test_convert_cli_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "gpen64"
    code = main(["convert", str(FIXTURES / "gen64_concat" / "model.pth"), str(out),
                 "--discriminator", str(FIXTURES / "disc64" / "model.pth")])
    assert code == 0
    assert (out / "config.json").is_file() and (out / "diffusion_pytorch_model.safetensors").is_file()
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: gpen-hf") and "pipeline_tag: image-to-image" in card
    model = GPENModel.from_pretrained(out)
    x = torch.from_numpy(np.load(FIXTURES / "gen64_concat" / "input.npy"))
    with torch.no_grad():
        assert np.abs(model(x).sample.numpy() - np.load(FIXTURES / "gen64_concat" / "output.npy")).max() <= 1e-4
    disc = GPENDiscriminator.from_pretrained(out / "discriminator")
    xd = torch.from_numpy(np.load(FIXTURES / "disc64" / "input.npy"))
    with torch.no_grad():
        assert np.abs(disc(xd).logits.numpy() - np.load(FIXTURES / "disc64" / "output.npy")).max() <= 1e-4


def test_convert_fp16_variant(tmp_path: Path) -> None:
    out = tmp_path / "half"
    assert main(["convert", str(FIXTURES / "gen64_concat" / "model.pth"), str(out), "--variant", "fp16"]) == 0
    assert (out / "diffusion_pytorch_model.fp16.safetensors").is_file()
    model = GPENModel.from_pretrained(out, variant="fp16", torch_dtype=torch.float32)
    x = torch.from_numpy(np.load(FIXTURES / "gen64_concat" / "input.npy"))
    with torch.no_grad():
        diff = np.abs(model(x).sample.numpy() - np.load(FIXTURES / "gen64_concat" / "output.npy")).max()
    assert diff < 0.05  # fp16 weights: close, not exact


def test_convert_bad_file_exits_nonzero(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a checkpoint")
    assert main(["convert", str(bad), str(tmp_path / "out")]) == 1
    assert "broken.pth" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
