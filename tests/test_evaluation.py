"""Evaluation: reproducible degradations, baselines, table, and the CLI end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gpen_hf import GPENModel
from gpen_hf.cli import main
from gpen_hf.evaluation import EvaluationResult, degraded_inputs, evaluate, list_images, load_faces

FACES = Path(__file__).parent / "fixtures" / "faces"


def test_degraded_inputs_are_reproducible_per_face() -> None:
    hq = load_faces(list_images(FACES), 64)
    a = degraded_inputs(hq, "paper", seed=0)
    b = degraded_inputs(hq[:1], "paper", seed=0)  # face 0 does not depend on the others
    assert np.array_equal(a["LQ input"][0], b["LQ input"][0])
    c = degraded_inputs(hq, "paper", seed=1)
    assert not np.array_equal(a["LQ input"][0], c["LQ input"][0])
    assert set(a) == {"LQ input", "bicubic", "Lanczos", "classical"}
    assert all(img.shape == (64, 64, 3) and img.dtype == np.uint8 for imgs in a.values() for img in imgs)


def test_evaluate_identity_restorer_equals_lq_row() -> None:
    result = evaluate(FACES, {"copy": lambda faces: [f.copy() for f in faces]}, resolution=64,
                      metrics=("psnr", "lpips"))
    assert result.values["copy"] == result.values["LQ input"]
    table = result.to_markdown()
    assert "| copy |" in table and "PSNR ↑" in table and "LPIPS ↓" in table
    # An oracle that returns the HQ face beats every baseline.
    hq = load_faces(list_images(FACES), 64)
    oracle = evaluate(FACES, {"oracle": lambda faces: hq}, resolution=64, metrics=("lpips",))
    assert oracle.mean("oracle", "lpips") < 1e-6 < oracle.mean("LQ input", "lpips")


def test_evaluate_cli(tmp_path: Path) -> None:
    torch.manual_seed(0)
    GPENModel(resolution=64, style_dim=32, n_mlp=2, channel_multiplier=1, narrow=0.125).save_pretrained(
        tmp_path / "tiny")
    out = tmp_path / "table.md"
    code = main(["evaluate", "--model", f"tiny={tmp_path / 'tiny'}", "--data", str(FACES), "--limit", "2",
                 "--metrics", "psnr,ssim", "--out", str(out)])
    assert code == 0
    text = out.read_text()
    assert "2 faces at 64px" in text and "| tiny |" in text and "| bicubic |" in text


def test_evaluate_cli_bad_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    torch.manual_seed(0)
    GPENModel(resolution=32, style_dim=32, n_mlp=1, narrow=0.125).save_pretrained(tmp_path / "m")
    assert main(["evaluate", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "empty")]) == 1
    assert "no images" in capsys.readouterr().err


def test_evaluate_without_baselines_keeps_the_lq_row() -> None:
    copy = {"copy": lambda faces: [f.copy() for f in faces]}
    full = evaluate(FACES, copy, resolution=64, metrics=("psnr",))
    lean = evaluate(FACES, copy, resolution=64, metrics=("psnr",), baselines=())
    assert list(lean.values) == ["LQ input", "copy"]
    assert lean.values["LQ input"] == full.values["LQ input"] == lean.values["copy"]
    some = evaluate(FACES, copy, resolution=64, metrics=("psnr",), baselines=("bicubic",))
    assert list(some.values) == ["LQ input", "bicubic", "copy"]
    assert some.values["bicubic"] == full.values["bicubic"]
    with pytest.raises(ValueError, match="unknown baseline"):
        evaluate(FACES, copy, resolution=64, baselines=("nearest",))


def test_evaluate_cli_baselines_option(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    torch.manual_seed(0)
    GPENModel(resolution=32, style_dim=32, n_mlp=1, narrow=0.125).save_pretrained(tmp_path / "m")
    args = ["evaluate", "--model", f"m={tmp_path / 'm'}", "--data", str(FACES), "--limit", "1", "--metrics", "psnr"]
    assert main(args + ["--baselines", "none"]) == 0
    table = capsys.readouterr().out
    assert "| LQ input |" in table and "| m |" in table and "bicubic" not in table
    assert main(args + ["--baselines", "Bicubic"]) == 0
    assert "| bicubic |" in capsys.readouterr().out
    assert main(args + ["--baselines", "sharpen"]) == 1
    assert "--baselines: unknown ['sharpen']" in capsys.readouterr().err


def test_paired_table_counts_faces_where_each_row_is_better() -> None:
    from gpen_hf.evaluation import EvaluationResult

    result = EvaluationResult(("psnr", "lpips"), files=["a", "b", "c"])
    result.values["bicubic"] = {"psnr": [20.0, 21.0, 22.0], "lpips": [0.5, 0.5, 0.5]}
    result.values["model"] = {"psnr": [21.0, 20.5, 23.0], "lpips": [0.4, 0.6, 0.3]}
    table = result.paired_to_markdown("bicubic")
    # PSNR differences +1, -0.5, +1: mean +0.5, std 0.866, standard error 0.5; better on 2 of 3 faces.
    # LPIPS differences -0.1, +0.1, -0.2 (lower is better): mean -0.0667, better on 2 of 3.
    assert "| model | +0.5000 ± 0.5000 (2/3) | -0.0667 ± 0.0882 (2/3) |" in table
    assert "| bicubic |" not in table
    with pytest.raises(ValueError, match="no row 'Lanczos' to compare with"):
        result.paired_to_markdown("Lanczos")


def test_evaluate_cli_paired_option(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    torch.manual_seed(0)
    GPENModel(resolution=32, style_dim=32, n_mlp=1, narrow=0.125).save_pretrained(tmp_path / "m")
    args = ["evaluate", "--model", f"m={tmp_path / 'm'}", "--data", str(FACES), "--limit", "2", "--metrics", "psnr",
            "--baselines", "bicubic", "--out", str(tmp_path / "t.md")]
    assert main(args + ["--paired", "bicubic"]) == 0
    out = capsys.readouterr().out
    assert "paired against bicubic" in out and "| LQ input | " in out.split("paired against")[1]
    assert "paired against bicubic" in (tmp_path / "t.md").read_text()
    assert main(args + ["--paired", "bicubic", "--json", str(tmp_path / "t.json")]) == 0
    saved = EvaluationResult.from_json((tmp_path / "t.json").read_text())
    assert list(saved.values) == ["LQ input", "bicubic", "m"] and saved.resolution == 32 and len(saved.files) == 2
    assert saved.paired_to_markdown("bicubic") in capsys.readouterr().out, "the same numbers as the table"
    assert main(args + ["--paired", "classical"]) == 1
    assert "no row 'classical' to compare with" in capsys.readouterr().err


def test_fixed_degradations_and_super_resolution() -> None:
    from gpen_hf.degradation import fixed_degradation
    from gpen_hf.metrics import psnr

    hq = load_faces(list_images(FACES), 64)
    moderate = degraded_inputs(hq, "moderate", seed=0, baselines=("bicubic",))
    severe = degraded_inputs(hq, "severe", seed=0, baselines=("bicubic",))
    assert np.array_equal(moderate["LQ input"][1], degraded_inputs(hq, "moderate", seed=0)["LQ input"][1])
    for i, face in enumerate(hq):
        assert psnr(severe["LQ input"][i], face) < psnr(moderate["LQ input"][i], face)
    # pure x4 downsampling, bicubic back: the LQ input is the bicubic baseline, with no noise or JPEG
    sr = degraded_inputs(hq, "sr4", seed=0, baselines=("bicubic",))
    assert all(np.array_equal(a, b) for a, b in zip(sr["LQ input"], sr["bicubic"]))
    params = fixed_degradation("severe", 256)
    assert (params.sigma_x, params.scale, params.noise_sigma, params.jpeg_quality) == (6.0, 8.0, 12.0, 25)
    # "clean": the HQ face itself, what a restorer should leave alone
    clean = degraded_inputs(hq, "clean", seed=0)
    assert all(np.array_equal(lq, face) for lq, face in zip(clean["LQ input"], hq))
    with pytest.raises(ValueError, match="unknown fixed degradation 'mild'"):
        fixed_degradation("mild", 128)


def test_evaluate_cli_sr_task_and_unknown_preset(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model_dir = tmp_path / "m"
    GPENModel(resolution=32, style_dim=32, n_mlp=2, channel_multiplier=1, narrow=0.125).save_pretrained(model_dir)
    code = main(["evaluate", "--model", str(model_dir), "--data", str(FACES), "--task", "sr", "--scale", "8",
                 "--metrics", "psnr", "--baselines", "none"])
    assert code == 0 and "preset `sr8`" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:  # argparse: the choices are the sampling and fixed presets
        main(["evaluate", "--model", str(model_dir), "--data", str(FACES), "--preset", "mild"])
    assert exit_info.value.code == 2 and "invalid choice: 'mild'" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(model_dir), "--data", str(FACES), "--task", "sr", "--scale", "1"]) == 1
    assert "--scale: --task sr needs a downsampling factor of at least 2" in capsys.readouterr().err


def test_results_round_trip_through_json_with_unmeasurable_faces() -> None:
    result = EvaluationResult(("psnr", "identity"), files=["a.png", "b.png", "c.png"], preset="severe", seed=3,
                              resolution=64)
    result.values["LQ input"] = {"psnr": [20.0, 21.0, 22.0], "identity": [0.5, float("nan"), 0.7]}
    result.values["m"] = {"psnr": [21.0, 21.5, 21.0], "identity": [0.6, 0.8, 0.9]}
    back = EvaluationResult.from_json(result.to_json())
    assert "NaN" not in result.to_json(), "standard JSON: an unmeasurable face is null"
    assert np.isnan(back.values["LQ input"]["identity"][1]) and back.values["m"] == result.values["m"]
    assert (back.preset, back.seed, back.resolution, back.files) == ("severe", 3, 64, result.files)
    mean, sem, better, n = back.paired("m", "LQ input", "identity")
    assert (better, n) == (2, 2) and mean == pytest.approx(0.15) and sem == pytest.approx(0.05)
    assert back.paired_to_markdown("LQ input") == result.paired_to_markdown("LQ input")
