"""The resolver and the registry path, end to end against a Hub cache laid out by the test (HF_HUB_OFFLINE)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from _hub_cache import authors_gpen_file, entry, put_file
from _models import TINY_GPEN_64
from huggingface_hub import constants
from PIL import Image

from gpen_hf import GPENModel, GPENPipeline, registry
from gpen_hf.faces.align import FFHQ_TEMPLATE_512, GPEN_TEMPLATE_512
from gpen_hf.hub import (
    ModelNotFoundError,
    WeightsMismatchError,
    cache_root,
    converted_folder,
    is_cached,
    pretrained_folder,
    resolve,
)

PHOTO = Path(__file__).parent / "fixtures" / "photos" / "faceapi__sample6_one_face.jpg"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hub cache + converted-weights cache, offline."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("GPEN_HF_CACHE", str(tmp_path / "gpen-hf"))
    return tmp_path / "hub"


@pytest.fixture
def tiny_gpen(hub: Path, monkeypatch: pytest.MonkeyPatch) -> registry.KnownWeights:
    """A test-only registry name for a random authors'-layout GPEN file kept in a *space* repo, like
    gpen-bfr-256, under a nested path."""
    data = authors_gpen_file()
    put_file(hub, "someone/demo-space", "third_party/GPEN/weights/Tiny.pth", data, repo_type="space")
    known = entry("test-gpen", "gpen", "someone/demo-space", "third_party/GPEN/weights/Tiny.pth", data, "space")
    monkeypatch.setitem(registry.REGISTRY, known.name, known)
    return known


def test_real_registry_entries_have_the_published_sizes_digests_and_licence() -> None:
    expected = {"gpen-bfr-512": (284_085_738, "f1002c41"), "gpen-bfr-256": (75_573_183, "56ba6ed9"),
                "parsenet": (85_331_193, "3d558d8d"), "realesrnet-x2": (77_228_423, "a8bc646e")}
    assert {n: (e.size, e.sha256[:8]) for n, e in registry.REGISTRY.items()} == expected
    for e in registry.REGISTRY.values():
        assert re.fullmatch(r"[0-9a-f]{8}|[0-9a-f]{64}", e.sha256) and "/" not in e.name
        assert e.repo_type in ("model", "space") and "Alibaba" in e.licence and "non-commercial" in e.licence
        assert e.face_template == ("gpen" if e.kind == "gpen" else None)
    assert registry.names("gpen") == ["gpen-bfr-512", "gpen-bfr-256"]
    assert registry.REGISTRY["gpen-bfr-512"].full_digest and not registry.REGISTRY["gpen-bfr-256"].full_digest


def test_resolve_says_what_a_source_is(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    (tmp_path / "run" / "generator").mkdir(parents=True)
    (tmp_path / "run" / "generator" / "config.json").write_text("{}")
    (tmp_path / "run" / "discriminator").mkdir()
    (tmp_path / "run" / "discriminator" / "config.json").write_text("{}")
    (tmp_path / "G.pth").write_bytes(b"x")
    assert resolve(tmp_path / "m").kind == "folder"
    run = resolve(tmp_path / "run")
    assert run.kind == "checkpoint" and run.model_subfolder == "generator" and run.holds("discriminator")
    assert resolve(tmp_path / "G.pth").kind == "pth"
    assert resolve("gpen-bfr-512").entry is registry.REGISTRY["gpen-bfr-512"]
    assert resolve("someone/gpen").kind == "hub"
    with pytest.raises(ModelNotFoundError, match="unknown model 'gpen-bfr-1024'.*gpen-bfr-512"):
        resolve("gpen-bfr-1024")
    with pytest.raises(ModelNotFoundError, match="model folder not found"):
        resolve(tmp_path / "missing.pth")


def test_a_name_is_verified_converted_once_and_restores_with_the_authors_template(
        tiny_gpen: registry.KnownWeights, hub: Path) -> None:
    pipe = GPENPipeline.from_pretrained("test-gpen")
    assert pipe.resolution == 64 and pipe.model.config.face_template == "gpen"
    np.testing.assert_allclose(pipe.aligner.template, GPEN_TEMPLATE_512 / 8)
    out = pipe(PHOTO, output_type="np")
    assert out.num_faces == 1 and out.image.shape == np.asarray(Image.open(PHOTO)).shape
    folder = converted_folder(tiny_gpen)
    assert folder.parent == cache_root() / "test-gpen"
    assert json.loads((folder / "config.json").read_text())["face_template"] == "gpen"
    card = (folder / "README.md").read_text()
    assert "For academic and non-commercial use only" in card and "202.04" in card and "test-gpen" in card
    # converted once: without the release file (and offline) the name still loads, from the same folder
    for blob in (hub / "spaces--someone--demo-space" / "blobs").iterdir():
        blob.unlink()
    assert is_cached(tiny_gpen)
    assert pretrained_folder("test-gpen") == (folder, None)
    same = GPENModel.from_pretrained("test-gpen")
    assert all(np.array_equal(a, b) for a, b in zip(same.state_dict().values(), pipe.model.state_dict().values()))


def test_our_models_keep_the_ffhq_template(tmp_path: Path) -> None:
    GPENModel(**TINY_GPEN_64).save_pretrained(tmp_path / "ours")
    np.testing.assert_allclose(GPENPipeline.from_pretrained(tmp_path / "ours").aligner.template,
                               FFHQ_TEMPLATE_512 / 8)
    from gpen_hf.pipeline import DEFAULT_MODEL_DIR

    assert "face_template" not in json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())  # the default
    np.testing.assert_allclose(GPENPipeline.from_pretrained().aligner.template, FFHQ_TEMPLATE_512 / 4)


def test_a_prefix_only_entry_is_checked_on_size_and_prefix(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = authors_gpen_file(seed=1)
    put_file(hub, "someone/tiny", "Tiny.pth", data)
    known = entry("test-prefix", "gpen", "someone/tiny", "Tiny.pth", data, digest_chars=8)
    monkeypatch.setitem(registry.REGISTRY, known.name, known)
    assert not known.full_digest and GPENModel.from_pretrained("test-prefix").config.resolution == 64


def test_wrong_size_or_digest_names_the_file_and_both_values(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = authors_gpen_file()
    blob = put_file(hub, "someone/tiny", "Tiny.pth", data)
    known = entry("test-bad", "gpen", "someone/tiny", "Tiny.pth", data)
    monkeypatch.setitem(registry.REGISTRY, "test-bad", known)
    blob.write_bytes(data[:-10])  # truncated in the cache
    with pytest.raises(WeightsMismatchError, match=rf"Tiny.pth: {len(data) - 10:,} bytes, but test-bad .* "
                                                   rf"{len(data):,} bytes.*gpen-hf download test-bad"):
        GPENModel.from_pretrained("test-bad")
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0xFF  # same size, one bit flipped
    blob.write_bytes(bytes(damaged))
    with pytest.raises(WeightsMismatchError, match=rf"sha256 [0-9a-f]{{64}}, but test-bad .* sha256 {known.sha256}"):
        GPENPipeline.from_pretrained("test-bad")
    assert not (cache_root() / "test-bad").exists() or not any((cache_root() / "test-bad").iterdir())


def test_a_damaged_converted_folder_is_redone(tiny_gpen: registry.KnownWeights) -> None:
    folder = converted_folder(tiny_gpen)
    weights = folder / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    again = converted_folder(tiny_gpen)
    assert again == folder and GPENModel.from_pretrained(again).config.face_template == "gpen"


def test_offline_without_the_file_says_so_and_names_the_download_command(hub: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="gpen-bfr-512: GPEN-BFR-512.pth of model repo akhaliq/GPEN-BFR-512 "
                                                 "is not in the local Hugging Face cache.*gpen-hf download gpen-bfr-512"):
        GPENModel.from_pretrained("gpen-bfr-512")
    with pytest.raises(ModelNotFoundError, match="owner/name: config.json .* not in the local Hugging Face cache"):
        GPENPipeline.from_pretrained("owner/name")


def test_a_hub_repo_is_loaded_from_the_cache_or_said_not_to_be_a_model_folder(
        hub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    GPENModel(**TINY_GPEN_64).save_pretrained(tmp_path / "saved")
    for f in ("config.json", "diffusion_pytorch_model.safetensors"):
        put_file(hub, "someone/gpen-tiny", f, (tmp_path / "saved" / f).read_bytes())
    assert GPENPipeline.from_pretrained("someone/gpen-tiny").resolution == 64
    put_file(hub, "someone/other", "config.json", json.dumps({"_class_name": "UNet2DModel"}).encode())
    with pytest.raises(ModelNotFoundError, match="someone/other is not a gpen-hf model folder.*UNet2DModel"):
        GPENModel.from_pretrained("someone/other")


def test_unreachable_hub_is_said_once_without_retries(tiny_gpen: registry.KnownWeights, hub: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens: connection refused
    with pytest.raises(ModelNotFoundError, match="Hub is not reachable .* not in the local cache; run "
                                                 "`gpen-hf download gpen-bfr-256` once online"):
        GPENModel.from_pretrained("gpen-bfr-256")
    assert "Retrying" not in caplog.text
    assert GPENModel.from_pretrained("test-gpen").config.resolution == 64  # cached: served from the cache


def test_each_model_class_loads_its_own_kind_by_name(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from gpen_hf import ParseNet

    aux = Path(__file__).parent / "fixtures" / "conformance" / "aux" / "parsenet64"
    data = (aux / "model.pth").read_bytes()
    put_file(hub, "someone/parse", "ParseNet.pth", data)
    monkeypatch.setitem(registry.REGISTRY, "test-parse", entry("test-parse", "parsenet", "someone/parse",
                                                                "ParseNet.pth", data))
    net = ParseNet.from_pretrained("test-parse")
    with torch.no_grad():
        logits = net(torch.from_numpy(np.load(aux / "input.npy"))).parsing_logits
    assert np.abs(logits.numpy() - np.load(aux / "output0.npy")).max() <= 1e-4
    with pytest.raises(ModelNotFoundError, match="'test-parse' is test parsenet weights, not a GPENModel"):
        GPENModel.from_pretrained("test-parse")
