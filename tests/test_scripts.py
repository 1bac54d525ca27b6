"""The packaging scripts of the default model: contact sheets and the ship script (tiny models, 3 faces)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from _models import TINY_GPEN_64
from PIL import Image

from gpen_hf import GPENModel

ROOT = Path(__file__).resolve().parents[1]
FACES = Path(__file__).parent / "fixtures" / "faces"
FACTS = {"summary": "A tiny test model.", "data": "three faces", "stage1": "none", "stage2": "none",
         "hardware": "a test", "commands": "none", "limits": "everything", "license": "test only"}


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A previous model folder and a training run (model in generator/), both tiny 64-px GPENs."""
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    GPENModel(**TINY_GPEN_64).save_pretrained(root / "previous")
    torch.manual_seed(1)
    GPENModel(**TINY_GPEN_64).save_pretrained(root / "run" / "generator")
    # the keys as training/finetune.py writes them (its training logs, prefixed ``train/``)
    summary = {"step": 1200, "train/share_adv": 0.2, "train/share_content": 0.7, "train/share_fm": 0.1}
    (root / "run" / "summary.json").write_text(json.dumps(summary))
    return root / "previous", root / "run"


def test_contact_sheets_put_models_side_by_side(two_models, tmp_path: Path) -> None:
    previous, run = two_models
    load_script("contact_sheets").main(["--model", f"previous={previous}", "--model", f"new={run / 'generator'}",
                                        "--eval_data", str(FACES), "--real_lq", str(FACES), "--tile", "32",
                                        "--out", str(tmp_path)])
    evals = np.asarray(Image.open(tmp_path / "contact_eval_moderate.jpg"))
    real = np.asarray(Image.open(tmp_path / "contact_real_lq.jpg"))
    step = 32 + 4
    assert evals.shape[1] == 4 * step - 4  # HQ | LQ | previous | new
    assert evals.shape[0] == 18 + 4 + 3 * step - 4  # header + one row per face
    assert real.shape[1] == 2 * 3 * step - 4  # two faces a row: input | previous | new, twice
    assert (evals[:18] < 128).any(), "the header names the columns"
    tiles = [evals[22:54, c * step:c * step + 32].astype(float) for c in range(4)]
    assert np.abs(tiles[2] - tiles[3]).mean() > 1, "the two models' columns show their own outputs"


def test_ship_script_evaluates_then_ships_only_with_write(two_models, tmp_path: Path) -> None:
    previous, run = two_models
    ship = load_script("ship_default_model")
    (tmp_path / "facts.json").write_text(json.dumps(FACTS))
    argv = ["--model", str(run / "generator"), "--previous", str(previous), "--ffhq_eval", str(FACES), "--faces_eval", str(FACES),
            "--card_facts", str(tmp_path / "facts.json"), "--tables", str(tmp_path / "tables"), "--limit", "2",
            "--out", str(tmp_path / "shipped")]
    ship.main(argv)
    assert not (tmp_path / "shipped").exists(), "nothing ships without --write"
    assert sorted(p.stem for p in (tmp_path / "tables").glob("ffhq-*.md")) == sorted(
        name for name, *_ in ship.SUITE if name.startswith("ffhq"))
    targets = (tmp_path / "tables" / "targets.md").read_text().splitlines()
    assert len(targets) == 9 and all(line.startswith(("- met: ", "- MISSED: ")) for line in targets)
    assert "paired against GPEN (previous default)" in (tmp_path / "tables" / "ffhq-sr8.md").read_text()

    ship.main([*argv, "--write"])
    card = (tmp_path / "shipped" / "README.md").read_text()
    assert "A tiny test model." in card and "face super-resolution ×16" in card and targets[0] in card
    assert "at step 1,200: L_A 20 %, α·L_C 70 %, β·L_F 10 %" in card
    shipped = GPENModel.from_pretrained(tmp_path / "shipped")
    original = GPENModel.from_pretrained(run / "generator")
    for key, value in original.state_dict().items():
        torch.testing.assert_close(shipped.state_dict()[key], value.half().float())


def test_ship_script_needs_the_runs_summary(two_models, tmp_path: Path) -> None:
    previous, _ = two_models
    (tmp_path / "facts.json").write_text(json.dumps(FACTS))
    with pytest.raises(SystemExit, match="summary.json not found"):
        load_script("ship_default_model").main([
            "--model", str(previous), "--previous", str(previous), "--ffhq_eval", str(FACES),
            "--faces_eval", str(FACES), "--card_facts", str(tmp_path / "facts.json"),
            "--tables", str(tmp_path / "tables")])


def test_ship_script_refuses_models_of_different_sizes(two_models, tmp_path: Path) -> None:
    _, run = two_models
    GPENModel(**{**TINY_GPEN_64, "resolution": 32}).save_pretrained(tmp_path / "small")
    (tmp_path / "facts.json").write_text(json.dumps(FACTS))
    with pytest.raises(SystemExit, match="32 px"):
        load_script("ship_default_model").main([
            "--model", str(run / "generator"), "--previous", str(tmp_path / "small"), "--ffhq_eval", str(FACES),
            "--faces_eval", str(FACES), "--card_facts", str(tmp_path / "facts.json"),
            "--tables", str(tmp_path / "tables")])
