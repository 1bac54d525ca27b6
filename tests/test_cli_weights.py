"""``gpen-hf models`` / ``download`` / ``restore --model NAME|FILE.pth``: real code paths, no network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _hub_cache import authors_gpen_file, authors_rrdbnet_file, entry, put_file
from huggingface_hub import constants
from PIL import Image

from gpen_hf import registry
from gpen_hf.cli import main

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "tests" / "fixtures" / "photos" / "faceapi__sample6_one_face.jpg"


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Hub cache holding a tiny authors' GPEN and RRDBNet under test-only registry names; offline."""
    hub = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("GPEN_HF_CACHE", str(tmp_path / "gpen-hf"))
    for name, kind, data in (("test-gpen", "gpen", authors_gpen_file()),
                             ("test-esr", "realesrnet", authors_rrdbnet_file())):
        put_file(hub, f"someone/{name}", f"{name}.pth", data)
        monkeypatch.setitem(registry.REGISTRY, name, entry(name, kind, f"someone/{name}", f"{name}.pth", data))
    return hub


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "empty-hub"),
               GPEN_HF_CACHE=str(tmp_path / "gpen-hf"), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "gpen_hf.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def test_offline_names_and_hub_ids_fail_in_one_line(tmp_path: Path) -> None:
    for model, says in (("gpen-bfr-512", "`gpen-hf download gpen-bfr-512`"),
                        ("owner/name", "not in the local Hugging Face cache")):
        done = _cli(["restore", str(PHOTO), "-o", str(tmp_path / "out"), "--model", model], tmp_path)
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # no traceback, no library warning


def test_models_lists_every_name_with_its_licence_and_cache_state(offline_cache: Path, capsys) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("gpen-bfr-512", "gpen-bfr-256", "parsenet", "realesrnet-x2"):
        assert any(line.startswith(name) and line.rstrip().endswith("no") for line in out.splitlines()), out
    assert any(line.startswith("test-gpen") and line.rstrip().endswith("yes") for line in out.splitlines())
    assert "For academic and non-commercial use only" in out


def test_download_then_restore_by_name_with_the_authors_background(offline_cache: Path, tmp_path: Path,
                                                                   capsys) -> None:
    assert main(["download", "test-gpen", "test-esr"]) == 0
    out = capsys.readouterr().out
    assert "test-gpen: ok (sha256 checked)" in out and "test-esr: ok" in out
    assert main(["download", "gpen-bfr-512"]) == 1
    assert "gpen-hf download gpen-bfr-512" in capsys.readouterr().err
    code = main(["restore", str(PHOTO), "-o", str(tmp_path / "out"), "--model", "test-gpen", "--upscale", "2",
                 "--bg-upsampler", "test-esr"])
    assert code == 0
    w, h = Image.open(PHOTO).size
    assert Image.open(tmp_path / "out" / PHOTO.with_suffix(".png").name).size == (2 * w, 2 * h)


def test_a_pth_gives_the_same_image_as_convert_then_folder(tmp_path: Path) -> None:
    pth = tmp_path / "GPEN-BFR-64.pth"
    pth.write_bytes(authors_gpen_file(seed=3))
    forced = ["--alpha", "1", "--no-identity-guard"]  # a random-weight face: paste it, whatever it looks like
    assert main(["restore", str(PHOTO), "-o", str(tmp_path / "direct"), "--model", str(pth), *forced]) == 0
    assert main(["convert", str(pth), str(tmp_path / "converted")]) == 0
    assert main(["restore", str(PHOTO), "-o", str(tmp_path / "via"), "--model", str(tmp_path / "converted"),
                 *forced]) == 0
    name = PHOTO.with_suffix(".png").name
    direct, via = (np.asarray(Image.open(tmp_path / d / name)) for d in ("direct", "via"))
    assert np.array_equal(direct, via)
    assert not np.array_equal(direct, np.asarray(Image.open(PHOTO)))  # the face was restored
