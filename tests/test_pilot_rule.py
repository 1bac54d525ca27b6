"""training/pilots/apply_rule.py: rules 1 and 2 of the stage-2 pilots, from `gpen-hf evaluate --json` files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from gpen_hf.evaluation import EvaluationResult

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("apply_rule", ROOT / "training" / "pilots" / "apply_rule.py")
apply_rule = sys.modules["apply_rule"] = importlib.util.module_from_spec(SPEC)  # dataclasses look it up
SPEC.loader.exec_module(apply_rule)


def split_result(preset: str, rows: dict[str, tuple[float, float]], seed: int) -> EvaluationResult:
    """20 faces; each row's (PSNR, LPIPS) means, with per-face noise shared by every row (as paired faces)."""
    rng = np.random.default_rng(seed)
    face_psnr, face_lpips = rng.normal(0, 1.5, 20), rng.normal(0, 0.05, 20)
    result = EvaluationResult(("psnr", "lpips"), files=[f"{i}.png" for i in range(20)], preset=preset,
                              resolution=64)
    for name, (psnr, lpips) in rows.items():
        jitter = rng.normal(0, 0.005, 20)
        result.values[name] = {"psnr": list(psnr + face_psnr), "lpips": list(lpips + face_lpips + jitter)}
    return result


ROWS = {
    "LQ input": (20.0, 0.60),
    "a": (20.0, 0.40),
    "b": (20.2, 0.35),   # better on both splits, eligible: wins
    "c": (19.0, 0.30),   # better still, but 1 dB under the input: not eligible
    "d": (20.0, 0.399),  # within the noise of a
}


def test_an_eligible_pilot_better_on_both_splits_beats_the_paper_loss() -> None:
    results = {s: split_result(s, ROWS, seed) for seed, s in enumerate(("moderate", "severe"))}
    verdicts, chosen = apply_rule.judge(results, "a")
    by_name = {v.name: v for v in verdicts}
    assert chosen == "b"
    assert set(by_name) == {"a", "b", "c", "d"}, "the LQ input is not a pilot"
    assert not by_name["c"].eligible and by_name["c"].beats_reference
    assert by_name["d"].eligible and not by_name["d"].beats_reference
    assert not by_name["a"].beats_reference
    # b better on moderate only: a is kept.
    severe_rows = {**ROWS, "b": (20.2, 0.41)}
    results["severe"] = split_result("severe", severe_rows, 1)
    assert apply_rule.judge(results, "a")[1] == "a"


def test_the_script_reads_evaluate_json_and_explains_missing_files(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "eval-moderate.json").write_text(split_result("moderate", ROWS, 0).to_json())
    assert apply_rule.main([str(tmp_path)]) == 1
    assert "eval-severe.json: not found" in capsys.readouterr().err
    (tmp_path / "eval-severe.json").write_text(split_result("severe", ROWS, 1).to_json())
    assert apply_rule.main([str(tmp_path), "--out", str(tmp_path / "rule.md")]) == 0
    table = (tmp_path / "rule.md").read_text()
    assert "Rules 1 and 2 pick **b**" in table and "| c | -1.00 dB | -1.00 dB | no |" in table
    assert apply_rule.main([str(tmp_path), "--reference", "z"]) == 1
    assert "no pilot 'z'" in capsys.readouterr().err
