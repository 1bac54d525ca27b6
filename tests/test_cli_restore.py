"""``gpen-hf restore`` and ``gpen-hf degrade`` end to end, in-process, with a tiny saved GPENModel."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from _models import TINY_GPEN_64
from PIL import Image

from gpen_hf.cli import main

PHOTOS = Path(__file__).parent / "fixtures" / "photos"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gpen_hf.models.gpen import GPENModel

    path = tmp_path_factory.mktemp("model") / "gpen-tiny"
    GPENModel(**TINY_GPEN_64).save_pretrained(path)
    return path


def test_restore_folder_with_a_bad_file_continues_and_fails_at_end(
        tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(PHOTOS / "faceapi__sample6_one_face.jpg", inputs / "a.jpg")
    (inputs / "b.jpg").write_bytes(b"not a jpeg")
    Image.new("RGB", (64, 48), (90, 120, 200)).save(inputs / "c.png")  # no face
    code = main(["restore", str(inputs), "-o", str(tmp_path / "out"), "--model", str(tiny_model), "--save-faces"])
    captured = capsys.readouterr()
    assert code == 1
    assert "b.jpg" in captured.err and "FAILED" in captured.err
    assert "a.jpg: 1 face(s)" in captured.out and "c.png: 0 face(s)" in captured.out and "no face" in captured.out
    assert (tmp_path / "out" / "a.png").is_file() and (tmp_path / "out" / "faces" / "a_00_restored.png").is_file()
    unchanged = np.asarray(Image.open(tmp_path / "out" / "c.png"))
    assert np.array_equal(unchanged, np.asarray(Image.open(inputs / "c.png")))


def test_restore_glob_upscale_and_rgba(tiny_model: Path, tmp_path: Path) -> None:
    rgba = Image.open(PHOTOS / "faceapi__sample6_one_face.jpg").convert("RGBA")
    rgba.putalpha(200)
    rgba.save(tmp_path / "face.png")
    code = main(["restore", str(tmp_path / "*.png"), "-o", str(tmp_path / "out"), "--model", str(tiny_model),
                 "--upscale", "2", "--alpha", "0.5"])
    assert code == 0
    out = Image.open(tmp_path / "out" / "face.png")
    assert out.mode == "RGBA" and out.size == (rgba.width * 2, rgba.height * 2)


def test_restore_without_model_explains(tmp_path: Path, capsys: pytest.CaptureFixture,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from gpen_hf import pipeline

    monkeypatch.setattr(pipeline, "DEFAULT_MODEL_DIR", tmp_path / "gpen-default")
    assert main(["restore", str(PHOTOS / "faceapi__sample6_one_face.jpg"), "-o", str(tmp_path)]) == 2
    assert "--model" in capsys.readouterr().err


def test_degrade_is_reproducible_and_overrides_apply(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = str(PHOTOS / "faceapi__sample6_one_face.jpg")
    for name in ("a.png", "b.png"):
        assert main(["degrade", src, "-o", str(tmp_path / name), "--seed", "7", "--preset", "gfpgan"]) == 0
    a, b = (np.asarray(Image.open(tmp_path / n)) for n in ("a.png", "b.png"))
    assert np.array_equal(a, b) and a.shape == np.asarray(Image.open(src)).shape
    assert main(["degrade", src, "-o", str(tmp_path / "c.png"), "--preset", "none", "--blur", "iso:3",
                 "--jpeg", "10", "--scale", "4", "--noise", "5"]) == 0
    assert '"jpeg_quality": 10' in capsys.readouterr().out
    assert main(["degrade", src, "-o", str(tmp_path / "d.png"), "--blur", "box:3"]) == 2
