"""The Space's handlers (space/handlers.py) and glue (space/lab.py) called directly: no server, no browser."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
import numpy as np
import pytest
from _space_app import FACE, LAB_PARAMS, PHOTO, SMALL_PHOTO, load_app_module
from PIL import Image

load_app_module()  # puts space/ on sys.path
import handlers
import lab


@pytest.fixture(scope="module")
def state(tiny_space_model, tmp_path_factory) -> handlers.SpaceState:
    return handlers.SpaceState(str(tiny_space_model), tmp_path_factory.mktemp("space_out"))


@pytest.fixture(scope="module")
def hq_face() -> np.ndarray:
    with Image.open(FACE) as im:
        return np.asarray(im.convert("RGB"))


# ---------------------------------------------------------------------- restore


def test_restore_real_photo(state):
    (before, after), faces, png, summary = handlers.restore(state, str(PHOTO), 1.0, 1, False, False)
    assert len(faces) == 3 and "3 face(s)" in summary and " s**" in summary
    with Image.open(png) as out, Image.open(PHOTO) as src:
        assert out.format == "PNG" and out.size == src.size
        assert before.shape == after.shape == (src.height, src.width, 3)
    pair, caption = faces[0]  # cropped | restored, side by side at model resolution
    assert pair.shape == (64, 128, 3) and caption.startswith("face 1: cropped | restored")


def test_restore_upscale_and_center_face(state):
    _, faces, png, _ = handlers.restore(state, str(SMALL_PHOTO), 0.5, 2, True, False)
    assert len(faces) == 1
    assert Image.open(png).size == (1024, 1200)


def test_no_face_still_returns_the_upscaled_photo(state, tmp_path):
    path = tmp_path / "flat.png"
    Image.fromarray(np.full((60, 80, 3), 128, np.uint8)).save(path)
    with pytest.warns(UserWarning, match="No face found: the photo is returned upscaled"):
        _, faces, png, summary = handlers.restore(state, str(path), 1.0, 2, False, False)
    assert faces == [] and "No face found" in summary
    assert Image.open(png).size == (160, 120)


def test_not_an_image_is_refused(state, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a photo")
    with pytest.raises(gr.Error, match="Not an image this app can read: notes.txt"):
        handlers.restore(state, str(path), 1.0, 1, False, False)


def test_missing_photo_is_refused(state):
    with pytest.raises(gr.Error, match="No photo"):
        handlers.restore(state, None, 1.0, 1, False, False)


def test_too_large_is_refused(state, monkeypatch):
    monkeypatch.setattr(handlers, "MAX_PIXELS", 100_000)
    with pytest.raises(gr.Error, match="too large"):
        handlers.restore(state, str(SMALL_PHOTO), 1.0, 1, False, False)


def test_too_much_upscale_is_refused(state, monkeypatch):
    monkeypatch.setattr(handlers, "MAX_OUTPUT_SIDE", 1000)
    with pytest.raises(gr.Error, match="exceed"):
        handlers.restore(state, str(SMALL_PHOTO), 1.0, 2, False, False)


# ---------------------------------------------------------------------- degradation lab


def test_lab_same_seed_same_metrics(state, hq_face):
    first = handlers.run_lab(state, hq_face, *LAB_PARAMS, 7)
    second = handlers.run_lab(state, hq_face, *LAB_PARAMS, 7)
    other = handlers.run_lab(state, hq_face, *LAB_PARAMS, 8)
    rows = first[2]
    assert [r[0] for r in rows] == ["degraded", "restored"] and len(rows[0]) == 5
    assert rows == second[2]
    assert rows != other[2]  # only the noise seed changed
    assert first[3]["seed"] == 7 and first[3]["blur"] == "iso" and first[3]["scale"] == 4
    for image in first[:2]:
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8


def test_lab_load_aligns_an_uploaded_photo(state):
    hq, note, *_, table, _ = handlers.load_lab(state, str(SMALL_PHOTO), False, *LAB_PARAMS, 0)
    assert "aligned" in note and hq.shape == (64, 64, 3)
    assert len(table) == 2


def test_lab_load_without_photo_clears_the_lab(state):
    assert handlers.load_lab(state, None, False, *LAB_PARAMS, 0) == (None, "", None, None, None, None)


def test_lab_without_face_is_refused(state):
    with pytest.raises(gr.Error, match="No HQ face"):
        handlers.run_lab(state, None, *LAB_PARAMS, 0)


def test_lab_bad_blur_kind_is_refused(state, hq_face):
    with pytest.raises(gr.Error, match="Bad degradation parameter: blur kind must be one of"):
        handlers.run_lab(state, hq_face, "box", *LAB_PARAMS[1:], 0)


def test_lab_random_gives_valid_controls(state, hq_face):
    values = handlers.random_lab(state)
    assert len(values) == 9 and values[0] in ("none", "Gaussian", "motion") and values[5] >= 1
    out = handlers.run_lab(state, hq_face, *values)
    assert len(out[2]) == 2


# ---------------------------------------------------------------------- about / model


def test_about_says_the_weights_are_random(state, tiny_space_model):
    banner, model_md, _, config = handlers.about(state)
    assert "untrained" in banner and "untrained" in model_md.lower()
    assert str(tiny_space_model) in model_md and config["resolution"] == 64


def test_load_model_errors_clearly(state, tiny_space_model):
    with pytest.raises(gr.Error, match="Could not load"):
        handlers.switch_model(state, "/nonexistent/gpen-model")
    assert "untrained" in handlers.switch_model(state, str(tiny_space_model))[0]
    with pytest.raises(gr.Error, match="Could not load 'no-such-model'"):
        handlers.pick_model(state, "no-such-model")
    assert handlers.pick_model(state, None) == handlers.about(state)


def test_switching_is_refused_where_disabled(state, tiny_space_model, monkeypatch):
    monkeypatch.setattr(handlers, "ALLOW_MODEL_SWITCH", False)
    with pytest.raises(gr.Error, match="disabled on this Space"):
        handlers.switch_model(state, str(tiny_space_model))


def test_model_source_order(monkeypatch, tiny_space_model):
    monkeypatch.setenv("GPEN_MODEL", "someone/gpen")
    assert lab.resolve_model_source("x")[0] == "x"
    assert lab.resolve_model_source(None)[0] == "someone/gpen"
    monkeypatch.delenv("GPEN_MODEL")
    if not (lab.DEFAULT_MODEL_DIR / "config.json").is_file():
        with pytest.raises(FileNotFoundError, match="GPEN_MODEL"):
            lab.resolve_model_source(None)
    assert lab.is_untrained((tiny_space_model / "README.md").read_text())
    assert not lab.is_untrained("# GPEN 512\nTrained on FFHQ for 200k steps.")


def test_model_dropdown_lists_the_authors_weights_and_greys_out_offline(monkeypatch, tmp_path):
    from _hub_cache import authors_gpen_file, entry, put_file
    from huggingface_hub import constants

    from gpen_hf import registry

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("GPEN_HF_CACHE", str(tmp_path / "gpen-hf"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert lab.model_choices()[:2] == ([lab.SHIPPED_CHOICE, "gpen-bfr-512", "gpen-bfr-256"], True)
    assert lab.background_sr_available()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    choices, usable, note = lab.model_choices()
    assert choices == [lab.SHIPPED_CHOICE] and not usable and "gpen-hf download" in note
    assert not lab.background_sr_available()
    # a name in the local cache stays available offline, loads with the authors' template, shows the licence
    data = authors_gpen_file()
    put_file(tmp_path / "hub", "someone/tiny", "Tiny.pth", data)
    monkeypatch.setitem(registry.REGISTRY, "test-gpen", entry("test-gpen", "gpen", "someone/tiny", "Tiny.pth", data))
    assert lab.model_choices()[:2] == ([lab.SHIPPED_CHOICE, "test-gpen"], True)
    pipe, info = lab.load_model("test-gpen")
    assert pipe.model.config.face_template == "gpen" and info.config["face_template"] == "gpen"
    about = info.markdown()
    assert "non-commercial" in about and "someone/tiny" in about and "gpen template" in about
    assert "non-commercial" in info.card


# ---------------------------------------------------------------------- video


def test_restore_clip(state, space_clip):
    from gpen_hf.video.io import VideoReader

    before, after, download, summary = handlers.restore_clip(state, str(space_clip), 1.0)
    assert "**8 frames**" in summary and "1 face track(s)" in summary
    reader = VideoReader(download)
    assert len(list(reader.frames())) == 8 and (reader.info.width, reader.info.height) == (128, 96)
    assert reader.audio is not None and after == download and before == str(space_clip)


def test_restore_clip_fidelity_is_automatic_unless_turned_off(state, space_clip, monkeypatch):
    seen = []
    real = handlers.restore_video

    def recording(*args, **kwargs):
        seen.append(kwargs["alpha"])
        return real(*args, **kwargs)

    monkeypatch.setattr(handlers, "restore_video", recording)
    handlers.restore_clip(state, str(space_clip), 0.4)
    handlers.restore_clip(state, str(space_clip), 0.4, auto_fidelity=False)
    assert seen == ["auto", 0.4]


def test_restore_clip_limits_and_bad_input(state, space_clip, tmp_path, monkeypatch):
    with pytest.raises(gr.Error, match="No video"):
        handlers.restore_clip(state, None, 1.0)
    monkeypatch.setattr(handlers, "MAX_FRAMES", 5)
    with pytest.raises(gr.Error, match="has 8 frames; the limit here is 5"):
        handlers.restore_clip(state, str(space_clip), 1.0)
    monkeypatch.setattr(handlers, "MAX_SIDE", 100)
    with pytest.raises(gr.Error, match="128×96; the limit here is 100 px"):
        handlers.restore_clip(state, str(space_clip), 1.0)
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(gr.Error, match="not a video"):
        handlers.restore_clip(state, str(tmp_path / "notes.mp4"), 1.0)
