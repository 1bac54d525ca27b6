"""Steady restored texture: motion-compensated recursive blending of each face's crops in the aligned frame.

A per-frame restorer shimmers because its input changes a little every frame (sensor noise, compression,
resampling) and a generative prior turns those small changes into different fine texture. Each track keeps
the previous frame's crops; they are warped into the current crop with the face's measured motion
(``M_t ∘ A_t ∘ M_{t-1}⁻¹``) and blended in, per pixel, with a weight that drops where the current input crop
differs from the warped previous one (the mouth opens, an eye blinks, an occlusion) and as the whole face moves
faster. Two blends, each optional:

* ``input_strength`` steadies what the model sees (a temporal denoiser on the input crops), so the model is
  asked the same question every frame and answers with the same, equally sharp, texture;
* ``output_strength`` averages what is left of the flicker in the restored crops (at some cost in sharpness,
  since averaging different hallucinated detail softens it).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from gpen_hf.faces.align import invert_affine
from gpen_hf.video.tracking import compose


def crop_motion(matrix: np.ndarray, prev_matrix: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """The transform from the previous crop to this one: crop_{t−1} → frame_{t−1} → frame_t → crop_t."""
    return compose(matrix, compose(motion, invert_affine(prev_matrix)))


def face_speed(motion: np.ndarray, landmarks: np.ndarray) -> float:
    """How far the face moved from the previous frame, in inter-ocular distances."""
    moved = landmarks @ motion[:, :2].T + motion[:, 2]
    iod = max(float(np.linalg.norm(landmarks[1] - landmarks[0])), 1.0)
    return float(np.linalg.norm(moved - landmarks, axis=1).mean() / iod)


@dataclass
class Blend:
    """For one face in one frame: the previous crop → this crop transform and the per-pixel blend weight."""

    warp: np.ndarray
    weight: np.ndarray


@dataclass
class _State:
    matrix: np.ndarray
    crop: np.ndarray  # the (steadied) input crop, float32
    restored: np.ndarray | None  # the (steadied) restored crop, float32


class TemporalBlender:
    """Per-track crop memory and the blends described in the module docstring.

    Args:
        input_strength: weight of the warped previous input crop where nothing changed (0 = off).
        output_strength: the same for the restored crops (0 = off).
        change_levels: difference (8-bit levels, after a small blur) at which the weight has fallen to 1/e.
        speed_scale: face speed (inter-ocular distances per frame) at which the weight has halved.
    """

    def __init__(self, input_strength: float = 0.85, output_strength: float = 0.7, change_levels: float = 10.0,
                 speed_scale: float = 0.3) -> None:
        for name, value in (("input_strength", input_strength), ("output_strength", output_strength)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        self.input_strength, self.output_strength = input_strength, output_strength
        self.change_levels, self.speed_scale = change_levels, speed_scale
        self._states: dict[int, _State] = {}

    def _weights(self, crop: np.ndarray, prev: np.ndarray, valid: np.ndarray, speed: float) -> np.ndarray:
        sigma = max(0.8, crop.shape[0] / 128)
        a = cv2.GaussianBlur(crop, (0, 0), sigma)
        b = cv2.GaussianBlur(prev, (0, 0), sigma)
        change = np.abs(a - b).mean(axis=2)
        weight = np.exp(-((change / self.change_levels) ** 2)) / (1.0 + (speed / self.speed_scale) ** 2)
        weight *= valid
        return cv2.GaussianBlur(weight, (0, 0), sigma)[:, :, None]

    def steady_input(self, track: int, crop: np.ndarray, matrix: np.ndarray, motion: np.ndarray | None,
                     landmarks: np.ndarray) -> tuple[np.ndarray, Blend | None]:
        """Blend the warped previous input crop into ``crop`` (uint8 R×R×3). Returns the steadied uint8 crop
        and what :meth:`steady_output` needs for the same frame (None on a track's first frame)."""
        current = crop.astype(np.float32)
        state = self._states.get(track)
        if state is None or motion is None:
            self._states[track] = _State(matrix, current, None)
            return crop, None
        size = crop.shape[1], crop.shape[0]
        warp = crop_motion(matrix, state.matrix, motion)
        prev = cv2.warpAffine(state.crop, warp, size, flags=cv2.INTER_CUBIC, borderValue=(-1, -1, -1))
        valid = (prev.min(axis=2) >= 0).astype(np.float32)
        weight = self._weights(current, prev, valid, face_speed(motion, landmarks))
        if self.input_strength > 0:
            w = self.input_strength * weight
            current = w * np.maximum(prev, 0) + (1 - w) * current
        state.matrix, state.crop = matrix, current
        return np.clip(np.rint(current), 0, 255).astype(np.uint8), Blend(warp, weight)

    def steady_output(self, track: int, restored: np.ndarray, blend: Blend | None) -> np.ndarray:
        """Blend the previous restored crop of ``track``, warped to this frame, into ``restored``. Call in
        frame order (after :meth:`steady_input` of the same frame, however far that one has run ahead)."""
        state = self._states[track]
        current = restored.astype(np.float32)
        if blend is not None and state.restored is not None and self.output_strength > 0:
            size = restored.shape[1], restored.shape[0]
            prev = cv2.warpAffine(state.restored, blend.warp, size, flags=cv2.INTER_CUBIC)
            w = self.output_strength * blend.weight
            current = w * prev + (1 - w) * current
        state.restored = current
        return np.clip(np.rint(current), 0, 255).astype(np.uint8)

    def forget(self, track: int) -> None:
        self._states.pop(track, None)
