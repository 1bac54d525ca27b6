"""training/check_discriminator.py: D trained alone against a frozen (grown) generator, several settings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("check_discriminator", ROOT / "training" / "check_discriminator.py")
check = sys.modules["check_discriminator"] = importlib.util.module_from_spec(SPEC)  # dataclasses look it up
SPEC.loader.exec_module(check)


@pytest.fixture(scope="module")
def prior16(tmp_path_factory) -> Path:
    """An untrained 16-px stage-1 folder (generator/ + discriminator/) and eight 24-px 'faces'."""
    from gpen_hf.models import GPENDiscriminator, StyleGAN2Prior

    root = tmp_path_factory.mktemp("prior16")
    torch.manual_seed(0)
    StyleGAN2Prior(resolution=16, style_dim=32, n_mlp=2, channel_multiplier=1, narrow=0.125).save_pretrained(
        root / "generator")
    GPENDiscriminator(resolution=16, channel_multiplier=1, narrow=0.125).save_pretrained(root / "discriminator")
    rng = np.random.default_rng(0)
    (root / "faces").mkdir()
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(root / "faces" / f"{i}.png")
    return root


def test_settings_start_alike_and_an_unaugmented_d_learns(prior16, tmp_path, capsys) -> None:
    results = check.main([str(prior16), "--train_data_dir", str(prior16 / "faces"), "--resolution", "32",
                          "--steps", "20", "--batch_size", "4", "--window", "5", "--setting", "0:none",
                          "--setting", "0.2:none", "--setting", "0:translation", "--csv", str(tmp_path / "d.csv"),
                          "--num_threads", "1"])
    plain, with_r1, shifted = (results[check.Setting.parse(s)] for s in ("0:none", "0.2:none", "0:translation"))
    assert plain[0] == with_r1[0]  # the same D and batch before any update
    assert plain[0] != shifted[0]  # the augmentation reaches D
    assert np.mean(plain[-5:]) < np.mean(plain[:5]) - 0.3  # random noise 'faces' against a prior's samples
    report = capsys.readouterr().out
    assert "at 32 px" in report and f"r1 0.2, none: first 5 {np.mean(with_r1[:5]):.3f}" in report
    rows = (tmp_path / "d.csv").read_text().splitlines()
    assert rows[0] == "step,setting,d_loss" and len(rows) == 1 + 3 * 20


def test_bad_setting_says_what_a_setting_is() -> None:
    with pytest.raises(SystemExit):
        check.parse_args(["run", "--train_data_dir", "x", "--setting", "0.2"])
    with pytest.raises(Exception, match="unknown DiffAugment"):
        check.Setting.parse("0.2:blur")
