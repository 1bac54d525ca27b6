"""Paste-back that never makes a photo worse: face-region mask geometry, band-split maths, colour matching."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from _models import Identity

from gpen_hf.faces import FFHQ_TEMPLATE_512, FaceAligner, face_region_mask, feather_mask, paste_faces
from gpen_hf.faces.blend import match_colour
from gpen_hf.faces.mask import crop_mask, feather_parsing_mask
from gpen_hf.pipeline import GPENPipeline

PHOTOS = Path(__file__).parent / "fixtures" / "photos"


def read_rgb(name: str) -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(PHOTOS / name))[:, :, ::-1])


class Tinted(Identity):
    """Returns the face with a strong red cast and darker: what colour matching must undo."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + torch.tensor([0.4, -0.1, -0.2]).view(1, 3, 1, 1) - 0.1).clamp(-1, 1)


@pytest.mark.parametrize("resolution", [64, 128, 512])
def test_face_mask_covers_the_face_not_the_crop_corners(resolution: int) -> None:
    """Warped back into a photo, the face mask is ~1 on eyes, nose and mouth, ~0 on the crop's corners and hair."""
    photo = np.zeros((400, 400, 3), np.uint8)
    landmarks = FFHQ_TEMPLATE_512 * (200 / 512) + 100  # a 200-px face at (100, 100)
    aligner = FaceAligner(resolution)
    crop, matrix = aligner.warp(photo, landmarks)
    out = paste_faces(photo, [np.full_like(crop, 255)], [matrix], aligner, crop_mask("face", resolution))
    value = out[..., 0].astype(np.float64) / 255
    for x, y in landmarks:
        assert value[round(y), round(x)] > 0.97
    brow_to_chin = [(200, 181), (200, 263)]  # brows (0.3 IOD above the eyes), chin (0.4 IOD below the mouth)
    assert all(value[y, x] > 0.9 for x, y in brow_to_chin)
    corners = [(105, 105), (295, 105), (105, 295), (295, 295), (200, 108)]  # crop corners and the hair on top
    assert all(value[y, x] < 0.03 for x, y in corners), [value[y, x] for x, y in corners]
    square = paste_faces(photo, [np.full_like(crop, 255)], [matrix], aligner, feather_mask(resolution))
    assert square[125, 125, 0] > 128  # the square mask did replace the corners: the test tells them apart


def test_face_mask_is_soft_and_scales_with_the_crop() -> None:
    small, big = face_region_mask(64), face_region_mask(512)
    assert small[0].max() == 0 and big[:, 0].max() == 0
    resized = cv2.resize(big, (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(resized - small).mean() < 0.02  # the same region at every size
    steps = np.abs(np.diff(big, axis=0)).max()
    assert steps < 0.05  # feathered over many pixels, no hard edge


def test_parsing_mask_is_softened_inside_the_region() -> None:
    hard = np.zeros((128, 128), np.float32)
    hard[30:100, 35:95] = 1
    soft = feather_parsing_mask(hard)
    assert soft[65, 65] > 0.99 and soft[29, 65] < 0.2 and soft[25, 65] < 0.02 and soft.max() <= 1
    with pytest.raises(ValueError, match="square"):
        feather_parsing_mask(np.zeros((10, 12)))


@pytest.mark.parametrize("name", ["faceapi__sample6_one_face.jpg", "faceapi__sample4_top_1200.jpg"])
def test_identity_model_returns_the_photo_within_half_a_grey_level(name: str) -> None:
    photo = read_rgb(name)
    pipe = GPENPipeline(Identity(), resolution=128)
    out = pipe(photo, alpha=1.0, identity_guard=False, output_type="np")
    assert out.num_faces >= 1 and all(f.alpha == 1.0 for f in out.fidelity)
    diff = np.abs(out.image.astype(np.float64) - photo)
    assert diff.mean() < 0.5 and np.quantile(diff, 0.999) <= 8, (diff.mean(), diff.max())


def _high_band(image: np.ndarray, aligner: FaceAligner, matrix: np.ndarray) -> np.ndarray:
    """What a crop at the aligner's resolution cannot hold: the image minus its trip through the crop."""
    h, w = image.shape[:2]
    crop = cv2.warpAffine(image, matrix, (aligner.resolution,) * 2, flags=cv2.INTER_AREA)
    back = aligner.inverse_warp(crop.astype(np.float32), matrix, (w, h))
    return cv2.cvtColor(image.astype(np.float32) - back, cv2.COLOR_RGB2GRAY)


def test_blurry_model_leaves_the_high_band_of_a_sharp_photo() -> None:
    """A 'model' that returns a blurred face: band-split paste keeps the photo's fine detail, plain paste not."""
    photo = read_rgb("faceapi__sample6_one_face.jpg")
    big = cv2.resize(photo, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    big = cv2.addWeighted(big, 1.8, cv2.GaussianBlur(big, (0, 0), 2), -0.8, 0)  # sharp detail at photo scale
    pipe = GPENPipeline(Identity(), resolution=64)
    lm = pipe.detector.detect(big).landmarks[0]
    crop, matrix = pipe.aligner.warp(big, lm)
    blurred = cv2.GaussianBlur(crop, (0, 0), 2)
    face = face_region_mask(64)
    mask = cv2.warpAffine(face, matrix, big.shape[1::-1], flags=cv2.WARP_INVERSE_MAP) > 0.9
    reference = _high_band(big, pipe.aligner, matrix)[mask]
    split = paste_faces(big, [blurred], [matrix], pipe.aligner, face, [crop])
    plain = paste_faces(big, [blurred], [matrix], pipe.aligner, face)
    kept = _high_band(split, pipe.aligner, matrix)[mask]
    lost = _high_band(plain, pipe.aligner, matrix)[mask]
    assert np.corrcoef(kept, reference)[0, 1] > 0.95 and np.std(kept) > 0.9 * np.std(reference)
    assert np.std(lost) < 0.5 * np.std(reference)


def test_noise_in_the_high_band_is_not_kept() -> None:
    """A noisy flat face: the gate sees noise, so the (clean) model output is not re-noised."""
    rng = np.random.default_rng(0)
    photo = np.clip(128 + rng.normal(0, 12, (600, 600, 3)), 0, 255).astype(np.uint8)
    aligner = FaceAligner(64)
    landmarks = FFHQ_TEMPLATE_512 * (400 / 512) + 100
    crop, matrix = aligner.warp(photo, landmarks)
    clean = np.full_like(crop, 128)
    out = paste_faces(photo, [clean], [matrix], aligner, face_region_mask(64), [crop], noise=[12.0])
    centre = out[280:320, 280:320].astype(np.float64)
    assert centre.std() < 0.3 * photo[280:320, 280:320].std()


def test_colour_matching_undoes_a_tinted_model() -> None:
    photo = read_rgb("faceapi__sample6_one_face.jpg")
    pipe = GPENPipeline(Tinted(), resolution=128)
    kw = {"alpha": 1.0, "identity_guard": False, "output_type": "np"}
    matched = pipe(photo, **kw)
    tinted = pipe(photo, colour_match=False, **kw)
    aligner = FaceAligner(128)
    lm = matched.landmarks[0]
    inner = face_region_mask(128) > 0.95

    def mean_colour(image: np.ndarray) -> np.ndarray:
        return aligner.warp(image, lm)[0][inner].astype(np.float64).mean(axis=0)

    assert np.abs(mean_colour(matched.image) - mean_colour(photo)).max() < 3
    assert np.abs(mean_colour(tinted.image) - mean_colour(photo)).max() > 30


def test_match_colour_keeps_the_restored_detail() -> None:
    rng = np.random.default_rng(1)
    detail = rng.integers(0, 60, (64, 64, 3)).astype(np.uint8)
    reference = np.full((64, 64, 3), (180, 120, 100), np.uint8)
    out = match_colour(detail, reference, np.ones((64, 64), np.float32)).astype(np.float64)
    assert np.abs(out.mean(axis=(0, 1)) - (180, 120, 100)).max() < 6
    assert np.corrcoef(out[..., 0].ravel(), detail[..., 0].ravel())[0, 1] > 0.9


def test_parsing_mask_with_a_random_weight_parsenet() -> None:
    from gpen_hf.models.parsenet import ParseNet

    torch.manual_seed(0)
    net = ParseNet(in_size=64, out_size=64, min_feat_size=16, base_ch=8, res_depth=1, ch_range=(8, 32)).eval()
    photo = read_rgb("faceapi__sample6_one_face.jpg")
    pipe = GPENPipeline(Identity(), resolution=64, parsing_model=net)
    out = pipe(photo, alpha=1.0, mask="parsing", identity_guard=False, output_type="np")
    assert out.num_faces == 1 and out.image.shape == photo.shape
    masks = pipe.paste_masks(out.cropped_faces, "parsing")
    assert masks[0].shape == (64, 64) and 0.0 <= masks[0].min() and masks[0].max() <= 1.0
    with pytest.raises(ValueError, match="parsing"):
        GPENPipeline(Identity(), resolution=64)(photo, mask="parsing")
