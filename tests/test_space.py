"""The Space (space/app.py) launched in-process on 127.0.0.1 and driven through gradio_client."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np
import pytest
from _space_app import SPACE, launch, load_app_module, make_tiny_model
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

EXAMPLES = SPACE / "examples"
PHOTO = EXAMPLES / "faceapi__sample3.jpg"  # three faces
SMALL_PHOTO = EXAMPLES / "matplotlib__grace_hopper.jpg"  # one face, 512×600
FACE = EXAMPLES / "faceapi__sample6__f0_256.png"  # aligned
LAB_PARAMS = ("Gaussian", 21, 1.0, 0, 0, 4, 5, 50)  # blur, kernel, σ, motion len, angle, s, noise, JPEG


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("space") / "tiny-gpen")


@pytest.fixture(scope="module")
def client(tiny_model):
    demo, url = launch(tiny_model)
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()


def test_every_endpoint_has_an_api_name(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/restore", "/lab", "/lab_load", "/lab_random", "/about", "/load_model"} <= names


def test_restore_real_photo(client):
    slider, faces, png, summary = client.predict(
        handle_file(str(PHOTO)), 1.0, 1, False, False, api_name="/restore"
    )
    assert len(faces) == 3 and "3 face(s)" in summary and " s**" in summary
    with Image.open(png) as out, Image.open(PHOTO) as src:
        assert out.format == "PNG" and out.size == src.size
    before, after = slider
    assert Image.open(before).size == Image.open(after).size == Image.open(PHOTO).size
    with Image.open(faces[0]["image"]) as pair:  # cropped | restored, side by side at model resolution
        assert pair.format == "PNG" and pair.size == (128, 64)


def test_restore_upscale_and_center_face(client):
    _, faces, png, _ = client.predict(handle_file(str(SMALL_PHOTO)), 0.5, 2, True, False, api_name="/restore")
    assert len(faces) == 1
    assert Image.open(png).size == (1024, 1200)


def test_no_face_still_returns_the_upscaled_photo(client, tmp_path):
    path = tmp_path / "flat.png"
    Image.fromarray(np.full((60, 80, 3), 128, np.uint8)).save(path)
    _, faces, png, summary = client.predict(handle_file(str(path)), 1.0, 2, False, False, api_name="/restore")
    assert faces == [] and "No face found" in summary
    assert Image.open(png).size == (160, 120)


def test_not_an_image_is_refused(client, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a photo")
    with pytest.raises(AppError, match="not an image"):
        client.predict(handle_file(str(path)), 1.0, 1, False, False, api_name="/restore")


def test_missing_photo_is_refused(client):
    with pytest.raises(AppError, match="No photo"):
        client.predict(None, 1.0, 1, False, False, api_name="/restore")


def test_too_large_is_refused(client, monkeypatch):
    monkeypatch.setattr(load_app_module(), "MAX_PIXELS", 100_000)
    with pytest.raises(AppError, match="too large"):
        client.predict(handle_file(str(SMALL_PHOTO)), 1.0, 1, False, False, api_name="/restore")


def test_too_much_upscale_is_refused(client, monkeypatch):
    monkeypatch.setattr(load_app_module(), "MAX_OUTPUT_SIDE", 1000)
    with pytest.raises(AppError, match="exceed"):
        client.predict(handle_file(str(SMALL_PHOTO)), 1.0, 2, False, False, api_name="/restore")


def test_lab_same_seed_same_metrics(client):
    first = client.predict(handle_file(str(FACE)), *LAB_PARAMS, 7, api_name="/lab")
    second = client.predict(handle_file(str(FACE)), *LAB_PARAMS, 7, api_name="/lab")
    other = client.predict(handle_file(str(FACE)), *LAB_PARAMS, 8, api_name="/lab")
    rows = first[2]["data"]
    assert [r[0] for r in rows] == ["degraded", "restored"] and len(rows[0]) == 5
    assert rows == second[2]["data"]
    assert rows != other[2]["data"]  # only the noise seed changed
    assert first[3]["seed"] == 7 and first[3]["blur"] == "iso" and first[3]["scale"] == 4
    for path in first[:2]:
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size == (64, 64)


def test_lab_load_aligns_an_uploaded_photo(client):
    hq, note, *_, table, _ = client.predict(
        handle_file(str(SMALL_PHOTO)), False, *LAB_PARAMS, 0, api_name="/lab_load"
    )
    assert "aligned" in note and Image.open(hq).size == (64, 64)
    assert len(table["data"]) == 2


def test_lab_without_face_is_refused(client):
    with pytest.raises(AppError, match="No HQ face"):
        client.predict(None, *LAB_PARAMS, 0, api_name="/lab")


def test_lab_random_gives_valid_controls(client):
    values = client.predict(api_name="/lab_random")
    assert len(values) == 9 and values[0] in ("none", "Gaussian", "motion") and values[5] >= 1
    out = client.predict(handle_file(str(FACE)), *values, api_name="/lab")
    assert len(out[2]["data"]) == 2


def test_about_says_the_weights_are_random(client, tiny_model):
    banner, model_md, _, config = client.predict(api_name="/about")
    assert "untrained" in banner and "untrained" in model_md.lower()
    assert str(tiny_model) in model_md and config["resolution"] == 64


def test_load_model_errors_clearly(client, tiny_model):
    with pytest.raises(AppError, match="Could not load"):
        client.predict("/nonexistent/gpen-model", api_name="/load_model")
    assert "untrained" in client.predict(str(tiny_model), api_name="/load_model")[0]


def test_model_source_order(monkeypatch, tiny_model):
    load_app_module()
    import lab

    monkeypatch.setenv("GPEN_MODEL", "someone/gpen")
    assert lab.resolve_model_source("x")[0] == "x"
    assert lab.resolve_model_source(None)[0] == "someone/gpen"
    monkeypatch.delenv("GPEN_MODEL")
    if not (lab.DEFAULT_MODEL_DIR / "config.json").is_file():
        with pytest.raises(FileNotFoundError, match="GPEN_MODEL"):
            lab.resolve_model_source(None)
    assert lab.is_untrained((tiny_model / "README.md").read_text())
    assert not lab.is_untrained("# GPEN 512\nTrained on FFHQ for 200k steps.")


def test_model_dropdown_lists_the_authors_weights_and_greys_out_offline(monkeypatch, tmp_path):
    from _hub_cache import authors_gpen_file, entry, put_file
    from huggingface_hub import constants

    from gpen_hf import registry

    load_app_module()
    import lab

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


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    import cv2

    from gpen_hf.video.synthetic import pan_zoom_transforms, render_clip, write_clip

    image = np.ascontiguousarray(cv2.imread(str(SMALL_PHOTO))[:, :, ::-1])
    frames = render_clip(image, pan_zoom_transforms(8, (128, 96), (image.shape[1], image.shape[0])), (128, 96))
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_clip(path, frames)
    return path


def test_restore_video_tab(client, small_clip):
    from gpen_hf.video.io import VideoReader

    before, after, download, summary = client.predict(handle_file(str(small_clip)), 1.0,
                                                      api_name="/restore_video")
    assert "**8 frames**" in summary and "1 face track(s)" in summary
    reader = VideoReader(download)
    assert len(list(reader.frames())) == 8 and (reader.info.width, reader.info.height) == (128, 96)
    assert reader.audio is not None and after and before


def test_restore_video_tab_limits_and_bad_input(client, small_clip, tmp_path, monkeypatch):
    load_app_module()
    import video_tab

    monkeypatch.setattr(video_tab, "MAX_FRAMES", 5)
    with pytest.raises(AppError, match="has 8 frames; the limit here is 5"):
        client.predict(handle_file(str(small_clip)), 1.0, api_name="/restore_video")
    monkeypatch.setattr(video_tab, "MAX_SIDE", 100)
    with pytest.raises(AppError, match="128×96; the limit here is 100 px"):
        client.predict(handle_file(str(small_clip)), 1.0, api_name="/restore_video")
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(AppError, match="not a video"):
        client.predict(handle_file(str(tmp_path / "notes.mp4")), 1.0, api_name="/restore_video")
