"""Loading the images people really have: EXIF rotation, gray, RGBA, 16-bit, and broken files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from gpen_hf.image_io import ImageLoadError, load_image, save_image

PHOTOS = Path(__file__).parent / "fixtures" / "photos"


def test_exif_rotated_jpeg_is_upright() -> None:
    path = PHOTOS / "faceapi__sample2_exif6.jpg"
    raw = Image.open(path)
    assert raw.size == (672, 504) and raw.getexif().get(274) == 6  # stored landscape, tagged "rotate"
    loaded = load_image(path)
    assert loaded.rgb.shape == (672, 504, 3) and loaded.alpha is None


def test_grayscale_png_becomes_three_equal_channels(tmp_path: Path) -> None:
    gray = np.arange(64 * 48, dtype=np.uint8).reshape(64, 48)
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    loaded = load_image(tmp_path / "g.png")
    assert loaded.was_gray and loaded.rgb.shape == (64, 48, 3)
    assert np.array_equal(loaded.rgb[..., 0], gray) and np.array_equal(loaded.rgb[..., 2], gray)


def test_rgba_keeps_alpha(tmp_path: Path) -> None:
    rgba = np.random.default_rng(0).integers(0, 255, (20, 30, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    loaded = load_image(tmp_path / "a.png")
    assert np.array_equal(loaded.rgb, rgba[..., :3]) and np.array_equal(loaded.alpha, rgba[..., 3])
    saved = save_image(tmp_path / "b.png", loaded.rgb, loaded.alpha)
    assert Image.open(saved).mode == "RGBA"
    assert Image.open(save_image(tmp_path / "b.jpg", loaded.rgb, loaded.alpha)).mode == "RGB"


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_png_is_scaled_not_clipped(tmp_path: Path, channels: int) -> None:
    rng = np.random.default_rng(channels)
    shape = (24, 32) if channels == 1 else (24, 32, channels)
    data = rng.integers(0, 65535, shape, dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), data)  # written as BGR(A) by OpenCV
    loaded = load_image(tmp_path / "deep.png")
    expected = np.round(data / 257.0).astype(np.uint8)
    if channels == 1:
        assert np.array_equal(loaded.rgb[..., 0], expected)
    else:
        assert np.array_equal(loaded.rgb, expected[..., [2, 1, 0]])
    if channels == 4:
        assert np.array_equal(loaded.alpha, expected[..., 3])


def test_arrays_and_pil_images() -> None:
    floats = np.linspace(0, 1, 2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    assert load_image(floats).rgb[-1, -1, -1] == 255
    pil = Image.new("P", (5, 4))
    assert load_image(pil).rgb.shape == (4, 5, 3)
    with pytest.raises(ImageLoadError, match="shape"):
        load_image(np.zeros((4, 4, 5), np.uint8))


def test_truncated_jpeg_names_the_file(tmp_path: Path) -> None:
    data = (PHOTOS / "faceapi__sample6_one_face.jpg").read_bytes()
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="cut.jpg.*(truncated|damaged)"):
        load_image(bad)


def test_non_image_and_missing_files_name_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageLoadError, match="notes.png.*not an image"):
        load_image(text)
    with pytest.raises(ImageLoadError, match="missing.jpg.*no such file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageLoadError, match="directory"):
        load_image(tmp_path)
    assert issubclass(ImageLoadError, ValueError)
