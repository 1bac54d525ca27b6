"""The Space (space/app.py) launched in-process on 127.0.0.1 and driven through gradio_client: the wiring of
every endpoint, the upload checks and what Gradio does to the handlers' values (PNG files, the progress bar).
What the handlers compute is tested directly in test_space_handlers.py."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest
from _space_app import FACE, LAB_PARAMS, PHOTO, SMALL_PHOTO, launch, load_app_module
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError


@pytest.fixture(scope="module")
def client(tiny_space_model):
    demo, url = launch(tiny_space_model)
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


def test_not_an_image_is_refused(client, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a photo")
    with pytest.raises(AppError, match="not an image"):
        client.predict(handle_file(str(path)), 1.0, 1, False, False, api_name="/restore")


def test_too_large_is_refused(client, monkeypatch):
    load_app_module()
    import handlers

    monkeypatch.setattr(handlers, "MAX_PIXELS", 100_000)  # refused by the upload check, before the handler
    with pytest.raises(AppError, match="too large"):
        client.predict(handle_file(str(SMALL_PHOTO)), 1.0, 1, False, False, api_name="/restore")


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


def test_lab_random_gives_valid_controls(client):
    values = client.predict(api_name="/lab_random")
    assert len(values) == 9 and values[0] in ("none", "Gaussian", "motion") and values[5] >= 1
    out = client.predict(handle_file(str(FACE)), *values, api_name="/lab")
    assert len(out[2]["data"]) == 2


def test_about_says_the_weights_are_random(client, tiny_space_model):
    banner, model_md, _, config = client.predict(api_name="/about")
    assert "untrained" in banner and "untrained" in model_md.lower()
    assert str(tiny_space_model) in model_md and config["resolution"] == 64


def test_load_model_errors_clearly(client, tiny_space_model):
    with pytest.raises(AppError, match="Could not load"):
        client.predict("/nonexistent/gpen-model", api_name="/load_model")
    assert "untrained" in client.predict(str(tiny_space_model), api_name="/load_model")[0]


def test_restore_video_tab(client, space_clip):
    from gpen_hf.video.io import VideoReader

    before, after, download, summary = client.predict(handle_file(str(space_clip)), 1.0,
                                                      api_name="/restore_video")
    assert "**8 frames**" in summary and "1 face track(s)" in summary
    reader = VideoReader(download)
    assert len(list(reader.frames())) == 8 and (reader.info.width, reader.info.height) == (128, 96)
    assert reader.audio is not None and after and before


def test_restore_video_tab_limits_reach_the_client(client, space_clip, monkeypatch):
    load_app_module()
    import handlers

    monkeypatch.setattr(handlers, "MAX_FRAMES", 5)  # the other limits and bad clips: test_space_handlers.py
    with pytest.raises(AppError, match="has 8 frames; the limit here is 5"):
        client.predict(handle_file(str(space_clip)), 1.0, api_name="/restore_video")
