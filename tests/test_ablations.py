"""benchmarks/ablations.py: which runs it makes for each variant, with which options (no training here)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ablations():
    spec = importlib.util.spec_from_file_location("ablations", ROOT / "benchmarks" / "ablations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_runs(monkeypatch, ablations) -> list[list[str]]:
    """Replace the training processes by a recorder that writes what a finished run leaves behind."""
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], log: Path) -> dict:
        calls.append(cmd)
        out = Path(cmd[cmd.index("--output_dir") + 1])
        (out / "generator").mkdir(parents=True, exist_ok=True)
        (out / "generator" / "config.json").write_text("{}")
        return {"images_per_second": 100.0, "wall_seconds": 1.0}

    monkeypatch.setattr(ablations, "run", fake_run)
    return calls


def _option(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def test_every_variant_gets_its_prior_and_flags(ablations, monkeypatch, tmp_path):
    calls = _fake_runs(monkeypatch, ablations)
    report = ablations.main(["--train_data_dir", "faces", "--output_dir", str(tmp_path), "--prior_steps", "7",
                             "--finetune_steps", "5", "--seed", "3"])
    priors = [c for c in calls if c[1].endswith("pretrain_prior.py")]
    stage2 = {Path(_option(c, "--output_dir")).name: c for c in calls if c[1].endswith("finetune.py")}
    assert [_option(c, "--noise_mode") for c in priors] == ["concat", "add", "none"]
    assert set(stage2) == set(ablations.VARIANTS)
    for name, cmd in stage2.items():
        assert _option(cmd, "--max_train_steps") == "5" and _option(cmd, "--seed") == "3"
        assert _option(cmd, "--degradation_preset") == "paper"
        if name == "no_prior":
            assert "--pretrained_prior" not in cmd and _option(cmd, "--noise_mode") == "concat"
            assert _option(cmd, "--narrow") == "0.25"  # the same architecture as the others, not the defaults
        else:
            mode = "concat" if name in ("full", "freeze_decoder") else name
            assert Path(_option(cmd, "--pretrained_prior")).name == f"prior-{mode}"
        assert ("--freeze_decoder" in cmd) == (name == "freeze_decoder")
    assert all(_option(c, "--max_train_steps") == "7" for c in priors)
    assert set(json.loads((tmp_path / "ablations.json").read_text())["variants"]) == set(ablations.VARIANTS)
    assert report["priors"].keys() == {"concat", "add", "none"}


def test_trained_priors_are_reused_and_only_needed_ones_trained(ablations, monkeypatch, tmp_path):
    calls = _fake_runs(monkeypatch, ablations)
    (tmp_path / "prior-concat" / "generator").mkdir(parents=True)
    (tmp_path / "prior-concat" / "generator" / "config.json").write_text("{}")
    ablations.main(["--train_data_dir", "faces", "--output_dir", str(tmp_path),
                    "--variants", "freeze_decoder", "no_prior", "add"])
    priors = [_option(c, "--noise_mode") for c in calls if c[1].endswith("pretrain_prior.py")]
    assert priors == ["add"]


def test_calibration_sizes_both_budgets(ablations, monkeypatch, tmp_path):
    calls = _fake_runs(monkeypatch, ablations)
    ablations.main(["--train_data_dir", "faces", "--output_dir", str(tmp_path), "--train_batch_size", "4",
                    "--calibrate_seconds", "10", "--variants", "full"])
    # 100 images/s at batch 4 = 25 steps/s -> 250 steps in 10 s, for the prior and for stage 2
    steps = [_option(c, "--max_train_steps") for c in calls]
    assert steps == [str(ablations.CALIBRATION_STEPS)] * 2 + ["250", "250"]
