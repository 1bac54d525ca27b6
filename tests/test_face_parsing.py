"""Soft paste-back masks from parsing logits: class table, frame, feathering that scales with the crop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gpen_hf.faces import FACE_ONLY_MASK_VALUES, PARSING_CLASSES, PASTE_MASK_VALUES, face_mask_from_parsing


def _logits(labels: np.ndarray, classes: int = 19) -> np.ndarray:
    """(N, S, S) class map → logits whose argmax is that map (a noisy runner-up, so only argmax matters)."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1, (labels.shape[0], classes, *labels.shape[1:])).astype(np.float32)
    np.put_along_axis(logits, labels[:, None], 10.0, axis=1)
    return logits


def test_class_table_is_the_authors() -> None:
    assert len(PARSING_CLASSES) == 19 and PARSING_CLASSES[13] == "hair" and PARSING_CLASSES[18] == "cloth"
    zero = {PARSING_CLASSES[i] for i, v in enumerate(PASTE_MASK_VALUES) if v == 0}
    assert zero == {"background", "hat", "cloth"}
    kept = {PARSING_CLASSES[i] for i, v in enumerate(FACE_ONLY_MASK_VALUES) if v == 1}
    assert kept == {"skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip"}


@pytest.mark.parametrize("values", [PASTE_MASK_VALUES, FACE_ONLY_MASK_VALUES], ids=["paste", "face-only"])
def test_each_class_region_gets_its_value(values) -> None:
    """One image per class, that class everywhere: the centre (far from the frame) carries the table value."""
    size = 128
    labels = np.broadcast_to(np.arange(19)[:, None, None], (19, size, size)).copy()
    masks = face_mask_from_parsing(_logits(labels), values)
    assert masks.shape == (19, size, size) and masks.dtype == np.float32
    np.testing.assert_allclose(masks[:, size // 2, size // 2], values, atol=1e-6)
    assert masks.min() >= 0 and masks.max() <= 1


def test_frame_is_zero_and_regions_blend_softly() -> None:
    """Skin on the left, cloth on the right: the outer frame fades out, the boundary is a smooth 0.5 ramp.

    As in the authors' recipe the blur reaches into the zeroed frame: the crop's edge is ~0.2, a corner ~0.05.
    """
    size = 256
    labels = np.zeros((1, size, size), np.int64)
    labels[:, :, : size // 2] = PARSING_CLASSES.index("skin")
    labels[:, :, size // 2:] = PARSING_CLASSES.index("cloth")
    mask = face_mask_from_parsing(_logits(labels))[0]
    row = mask[size // 2]
    assert max(mask[0].max(), mask[:, 0].max(), mask[-1].max()) < 0.25  # the zeroed frame
    assert mask[0, 0] < 0.05 and mask[:, -1].max() == 0.0
    assert row[size // 4] == pytest.approx(1.0, abs=1e-3)
    assert row[3 * size // 4] == pytest.approx(0.0, abs=1e-3)
    assert 0.45 < (row[size // 2 - 1] + row[size // 2]) / 2 < 0.55
    assert np.all(np.diff(row[size // 4: 3 * size // 4]) <= 1e-6)  # monotone fall-off, no ringing


def _ramp_width(size: int) -> int:
    labels = np.zeros((1, size, size), np.int64)
    labels[:, :, : size // 2] = PARSING_CLASSES.index("skin")
    row = face_mask_from_parsing(_logits(labels))[0, size // 2]
    return int(np.sum((row > 0.1) & (row < 0.9) & (np.arange(size) > size // 4)))


def test_feathering_scales_with_the_crop_size() -> None:
    """The same face parsed at 128 and at 512 px gets the same mask, up to scale: the ramp is 4× wider."""
    narrow, wide = _ramp_width(128), _ramp_width(512)
    assert narrow >= 4
    assert wide / narrow == pytest.approx(4.0, rel=0.1)


def test_torch_and_numpy_logits_agree() -> None:
    labels = np.random.default_rng(1).integers(0, 19, (2, 64, 64))
    logits = _logits(labels)
    from_torch = face_mask_from_parsing(torch.from_numpy(logits))
    np.testing.assert_array_equal(face_mask_from_parsing(logits), from_torch)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(N, C, S, S\)"):
        face_mask_from_parsing(np.zeros((19, 64, 64), np.float32))
    with pytest.raises(ValueError, match="5 classes but 19 mask values"):
        face_mask_from_parsing(np.zeros((1, 5, 64, 64), np.float32))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        face_mask_from_parsing(np.zeros((1, 2, 8, 8), np.float32), values=(0, 255))
