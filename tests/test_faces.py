"""Faces in real photos: detection recall, alignment geometry, and seamless paste-back."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gpen_hf.faces import (
    FFHQ_TEMPLATE_512,
    FaceAligner,
    FaceDetector,
    feather_mask,
    paste_faces,
    resize_face,
    transform_points,
)
from gpen_hf.faces.detect import Detections, merge_detections
from gpen_hf.metrics import psnr

PHOTOS = Path(__file__).parent / "fixtures" / "photos"

GROUP = "faceapi__sample5_1024.jpg"  # five faces, inter-ocular distance 33-50 px
#: (left eye, right eye) of every face, from shared/data/faces/MANIFEST.csv (its 1920-px original), scaled
EXPECTED_EYES = {
    GROUP: [((223.7, 532.5), (273.4, 527.3)), ((359.9, 271.7), (396.3, 269.0)), ((452.1, 101.2), (490.7, 109.1)),
            ((611.8, 155.0), (650.4, 153.8)), ((769.9, 273.3), (806.0, 267.7))],
    "faceapi__sample4_top_1200.jpg": [((204.8, 191.2), (243.8, 179.2)), ((435.8, 92.3), (487.6, 105.2)),
                                      ((630.9, 179.1), (670.2, 183.4)), ((820.8, 149.1), (862.1, 163.4))],
}


def read_rgb(name: str) -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(PHOTOS / name))[:, :, ::-1])


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.mark.parametrize("name", sorted(EXPECTED_EYES))
def test_every_face_is_found(detector: FaceDetector, name: str) -> None:
    dets = detector.detect(read_rgb(name))
    for left, right in EXPECTED_EYES[name]:
        iod = np.hypot(right[0] - left[0], right[1] - left[1])
        err = np.linalg.norm(dets.landmarks[:, 0] - np.array(left), axis=1).min()
        assert err < 0.25 * iod, f"face with left eye at {left} missed in {name}"
    assert np.all(dets.landmarks[:, 0, 0] < dets.landmarks[:, 1, 0])  # image-left eye first


def test_detector_handles_tiny_and_faceless_images(detector: FaceDetector) -> None:
    assert len(detector.detect(np.full((8, 8, 3), 200, np.uint8))) == 0
    noise = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    assert len(detector.detect(noise)) == 0


def test_large_photo_is_detected_in_full_resolution_coordinates(detector: FaceDetector) -> None:
    """A 4× upscaled photo (4096 px wide) is searched on downscaled copies; boxes come back at full size."""
    photo = read_rgb(GROUP)
    big = cv2.resize(photo, None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR)
    small_dets, big_dets = detector.detect(photo), detector.detect(big)
    assert len(big_dets) >= len(EXPECTED_EYES[GROUP])
    for left, right in EXPECTED_EYES[GROUP]:
        err = np.linalg.norm(big_dets.landmarks[:, 0] / 4 - np.array(left), axis=1).min()
        assert err < 0.25 * np.hypot(right[0] - left[0], right[1] - left[1]), left
    assert len(small_dets) > 0


def test_merge_drops_duplicates_and_part_faces() -> None:
    boxes = np.array([[0, 0, 100, 100], [2, 2, 101, 99], [30, 30, 60, 60], [200, 200, 260, 260]], np.float32)
    dets = Detections(boxes, np.zeros((4, 5, 2), np.float32), np.array([0.9, 0.8, 0.95, 0.7], np.float32))
    merged = merge_detections(dets)
    assert sorted(map(tuple, merged.boxes.astype(int).tolist())) == [(0, 0, 100, 100), (200, 200, 260, 260)]


@pytest.mark.parametrize("resolution", [64, 256, 512])
def test_template_scales_and_landmarks_land_on_it(detector: FaceDetector, resolution: int) -> None:
    aligner = FaceAligner(resolution)
    assert np.allclose(aligner.template, FFHQ_TEMPLATE_512 * resolution / 512)
    photo = read_rgb("faceapi__sample4_top_1200.jpg")
    for landmarks in detector.detect(photo).landmarks:
        crop, matrix = aligner.warp(photo, landmarks)
        assert crop.shape == (resolution, resolution, 3)
        in_crop = transform_points(landmarks, matrix)
        eyes_err = np.linalg.norm(in_crop[:2] - aligner.template[:2], axis=1).max()
        assert eyes_err < 0.15 * resolution  # similarity fit: eyes near the template eyes
        back = aligner.inverse_points(in_crop, matrix)
        assert np.abs(back - landmarks).max() < 1.0


def test_crop_content_matches_photo_at_landmarks(detector: FaceDetector) -> None:
    """The pixel at a template point in the crop is the photo pixel at the mapped landmark (geometry check)."""
    photo = read_rgb(GROUP)
    aligner = FaceAligner(512)
    landmarks = detector.detect(photo).landmarks[0]
    crop, matrix = aligner.warp(photo, landmarks)
    photo_points = aligner.inverse_points(aligner.template, matrix)
    for (cx, cy), (px, py) in zip(aligner.template, photo_points):
        a = crop[round(cy) - 2:round(cy) + 3, round(cx) - 2:round(cx) + 3].mean()
        b = photo[round(py), round(px)].mean()
        assert abs(a - b) < 30


@pytest.mark.parametrize("name", [GROUP, "faceapi__sample6_one_face.jpg"])
def test_identity_paste_back_reproduces_photo(detector: FaceDetector, name: str) -> None:
    photo = read_rgb(name)
    aligner = FaceAligner(512)
    warped = [aligner.warp(photo, lm) for lm in detector.detect(photo).landmarks]
    out = paste_faces(photo, [c for c, _ in warped], [m for _, m in warped], aligner)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert psnr(out, photo) > 40


def test_paste_is_seamless_and_local() -> None:
    """A flat grey 'restored' face on a flat photo: no step anywhere, photo untouched outside the crop."""
    photo = np.full((300, 300, 3), 50, np.uint8)
    aligner = FaceAligner(128)
    landmarks = FFHQ_TEMPLATE_512 * (100 / 512) + 100
    crop, matrix = aligner.warp(photo, landmarks)
    out = paste_faces(photo, [np.full_like(crop, 200)], [matrix], aligner).astype(np.float64)
    assert out[150, 150, 0] > 195  # the middle of the face is the restored value
    assert np.array_equal(out[:90, :90], photo[:90, :90].astype(np.float64))
    steps = max(np.abs(np.diff(out[..., 0], axis=0)).max(), np.abs(np.diff(out[..., 0], axis=1)).max())
    assert steps < 0.15 * 150, steps  # a 150-level change spread smoothly, no hard edge


def test_feather_mask_shape() -> None:
    mask = feather_mask(128)
    assert mask.shape == (128, 128) and mask[64, 64] > 0.99 and mask[0, 64] == 0 and mask[1, 64] < 0.02


def test_resize_face_filters() -> None:
    """Area filter when shrinking, bicubic when enlarging, or the flag asked for; a face already at size is kept."""
    face = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert resize_face(face, 32) is face
    np.testing.assert_array_equal(resize_face(face, 16), cv2.resize(face, (16, 16), interpolation=cv2.INTER_AREA))
    np.testing.assert_array_equal(resize_face(face, 64), cv2.resize(face, (64, 64), interpolation=cv2.INTER_CUBIC))
    cubic = resize_face(face, 16, cv2.INTER_CUBIC)
    np.testing.assert_array_equal(cubic, cv2.resize(face, (16, 16), interpolation=cv2.INTER_CUBIC))
    assert not np.array_equal(cubic, resize_face(face, 16))
