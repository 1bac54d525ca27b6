"""Steady faces: motion-compensated recursive blending of each face, in the frame and in the aligned crop.

A per-frame restorer shimmers because its input changes a little every frame (sensor noise, compression,
resampling) and a generative prior turns those small changes into different fine texture; and the paste-back
keeps the frame's own detail above the model's resolution (``gpen_hf.faces.blend``), noise and all. Each track
keeps its previous frame; it is warped onto the current one with the face's measured motion and blended in,
per pixel, with a weight that drops where the current frame differs from the warped previous one (the mouth
opens, an eye blinks, an occlusion) and as the whole face moves faster. Two blends, each optional:

* ``input_strength`` steadies the face's region of the *frame*, at the frame's own resolution (a temporal
  denoiser): the model's crop is cut from it, so the model is asked the same question every frame and answers
  with the same texture, and the paste-back takes the frame's fine detail from it too;
* ``output_strength`` averages what is left of the flicker in the restored crops, in crop space.

Steadying the frame region (rather than only the crop, as before) is what keeps the face as sharp as per-frame
restoration while the warping error falls: the frame's own fine detail, which the band-split paste keeps,
was per-frame noise otherwise (``docs/video.md`` has the measurements, and those of the alternatives tried).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from gpen_hf.faces.align import affine_scale, footprint, invert_affine, shift_affine
from gpen_hf.faces.quality import THRESHOLDS
from gpen_hf.fidelity import FaceFidelity
from gpen_hf.video.tracking import OneEuroFilter, compose


def crop_motion(matrix: np.ndarray, prev_matrix: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """The transform from the previous crop to this one: crop_{t−1} → frame_{t−1} → frame_t → crop_t."""
    return compose(matrix, compose(motion, invert_affine(prev_matrix)))


def face_speed(motion: np.ndarray, landmarks: np.ndarray) -> float:
    """How far the face moved from the previous frame, in inter-ocular distances."""
    moved = landmarks @ motion[:, :2].T + motion[:, 2]
    iod = max(float(np.linalg.norm(landmarks[1] - landmarks[0])), 1.0)
    return float(np.linalg.norm(moved - landmarks, axis=1).mean() / iod)


def _translate(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


@dataclass
class Blend:
    """For one face in one frame: the previous crop → this crop transform and the per-pixel blend weight
    (crop space, R×R×1)."""

    warp: np.ndarray
    weight: np.ndarray


@dataclass
class SteadyRegion:
    """One face's steadied frame region: ``pixels`` (uint8) belong at ``box`` = (x0, y0, x1, y1) of the frame."""

    box: tuple[int, int, int, int]
    pixels: np.ndarray
    blend: Blend | None


@dataclass
class _State:
    matrix: np.ndarray
    origin: tuple[int, int]
    region: np.ndarray  # the steadied frame region, float32
    restored: np.ndarray | None  # the (steadied) restored crop, float32
    mask: np.ndarray | None = None  # the (steadied) per-face paste mask, float32


class TemporalBlender:
    """Per-track memory and the blends described in the module docstring.

    Args:
        resolution: the crop size (the model's resolution).
        input_strength: weight of the warped previous frame region where nothing changed (0 = off).
        output_strength: the same for the restored crops (0 = off).
        change_levels: difference (8-bit levels, after a blur of 1/128 of the crop) at which the weight has
            fallen to 1/e.
        speed_scale: face speed (inter-ocular distances per frame) at which the weight has halved.
    """

    def __init__(self, resolution: int, input_strength: float = 0.85, output_strength: float = 0.7,
                 change_levels: float = 10.0, speed_scale: float = 0.3) -> None:
        for name, value in (("input_strength", input_strength), ("output_strength", output_strength)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        self.resolution = int(resolution)
        self.input_strength, self.output_strength = input_strength, output_strength
        self.change_levels, self.speed_scale = change_levels, speed_scale
        self._states: dict[int, _State] = {}

    def _weights(self, current: np.ndarray, prev: np.ndarray, valid: np.ndarray, speed: float,
                 sigma: float) -> np.ndarray:
        a = cv2.GaussianBlur(current, (0, 0), sigma)
        b = cv2.GaussianBlur(prev, (0, 0), sigma)
        change = np.abs(a - b).mean(axis=2)
        weight = np.exp(-((change / self.change_levels) ** 2)) / (1.0 + (speed / self.speed_scale) ** 2)
        return cv2.GaussianBlur(weight * valid, (0, 0), sigma)

    def steady_region(self, track: int, frame: np.ndarray, matrix: np.ndarray, motion: np.ndarray | None,
                      landmarks: np.ndarray) -> SteadyRegion:
        """Blend the track's previous steadied region, moved by ``motion`` (previous frame → this one), into
        the region of ``frame`` that the face's crop (``matrix``: frame → crop) covers. Returns the steadied
        region and what :meth:`steady_output` needs for the same frame (``blend`` None on a track's first
        frame)."""
        h, w = frame.shape[:2]
        x0, y0, x1, y1 = footprint(matrix, self.resolution, (w, h))
        current = frame[y0:y1, x0:x1].astype(np.float32)
        state = self._states.get(track)
        if state is None or motion is None:
            self._states[track] = _State(matrix, (x0, y0), current, None)
            return SteadyRegion((x0, y0, x1, y1), frame[y0:y1, x0:x1], None)
        # this region's pixels → the frame → the previous frame (motion⁻¹) → the previous region's pixels
        to_prev = compose(_translate(-state.origin[0], -state.origin[1]),
                          compose(invert_affine(motion), _translate(x0, y0)))
        size = (x1 - x0, y1 - y0)
        prev = cv2.warpAffine(state.region, to_prev, size, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(-1, -1, -1))
        valid = (prev.min(axis=2) >= 0).astype(np.float32)
        # change is judged at 1/128 of the crop, whatever the face's size in the frame
        sigma = max(0.8, self.resolution / 128 / max(affine_scale(matrix), 1e-3))
        weight = self._weights(current, prev, valid, face_speed(motion, landmarks), sigma)
        if self.input_strength > 0:
            w_in = (self.input_strength * weight)[:, :, None]
            current = w_in * np.maximum(prev, 0) + (1 - w_in) * current
        crop_weight = cv2.warpAffine(weight, shift_affine(matrix, x0, y0), (self.resolution, self.resolution),
                                     flags=cv2.INTER_LINEAR)[:, :, None]
        blend = Blend(crop_motion(matrix, state.matrix, motion), crop_weight)
        state.matrix, state.origin, state.region = matrix, (x0, y0), current
        pixels = np.clip(np.rint(current), 0, 255).astype(np.uint8)
        return SteadyRegion((x0, y0, x1, y1), pixels, blend)

    def steady_output(self, track: int, restored: np.ndarray, blend: Blend | None) -> np.ndarray:
        """Blend the previous restored crop of ``track``, warped to this frame, into ``restored``. Call in
        frame order (after :meth:`steady_region` of the same frame, however far that
        one has run ahead)."""
        state = self._states[track]
        current = restored.astype(np.float32)
        if blend is not None and state.restored is not None and self.output_strength > 0:
            size = restored.shape[1], restored.shape[0]
            prev = cv2.warpAffine(state.restored, blend.warp, size, flags=cv2.INTER_CUBIC,
                                  borderMode=cv2.BORDER_REFLECT)
            w = self.output_strength * blend.weight
            current = w * prev + (1 - w) * current
        state.restored = current
        return np.clip(np.rint(current), 0, 255).astype(np.uint8)

    def steady_mask(self, track: int, mask: np.ndarray, blend: Blend | None) -> np.ndarray:
        """Blend the previous paste mask of ``track``, warped to this frame, into ``mask`` (a per-face mask
        such as a face-parsing one, which would otherwise flicker at its edges), with the weight of
        :meth:`steady_output`. Call in frame order."""
        state = self._states[track]
        current = np.asarray(mask, np.float32)
        if blend is not None and state.mask is not None and self.output_strength > 0:
            size = current.shape[1], current.shape[0]
            prev = cv2.warpAffine(state.mask, blend.warp, size, flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT)
            w = self.output_strength * blend.weight[:, :, 0]
            current = w * prev + (1 - w) * current
        state.mask = current
        return current

    def forget(self, track: int) -> None:
        self._states.pop(track, None)


class FidelitySmoother:
    """Per-track One-Euro smoothing of what the paste-back takes from a face's fidelity: its blend weight
    ``alpha`` and the noise σ and JPEG blocking that set the signal gate.

    Measured per frame, each wobbles with the frame's noise draw (and the identity guard lowers ``alpha`` in
    steps); smoothed along the track like the landmarks, a face's blend does not jump from frame to frame,
    while a real change (the scene gets darker and noisier) is followed within a few frames.
    """

    def __init__(self, rate: float, min_cutoff: float = 0.2, beta: float = 0.1) -> None:
        self.rate, self.min_cutoff, self.beta = rate, min_cutoff, beta
        self._filters: dict[int, OneEuroFilter] = {}
        # each value in units of its "degraded" level, so one filter's speed means the same for all three
        self._scale = np.array([1.0, THRESHOLDS["noise"][1], THRESHOLDS["blocking"][1]])

    def __call__(self, track: int, fidelity: FaceFidelity) -> FaceFidelity:
        quality = fidelity.quality
        values = np.array([fidelity.alpha, quality.noise if quality else 0.0, quality.blocking if quality else 1.0])
        filt = self._filters.setdefault(track, OneEuroFilter(self.rate, self.min_cutoff, self.beta))
        alpha, noise, blocking = filt(values / self._scale) * self._scale
        if quality is not None:
            quality = replace(quality, noise=float(noise), blocking=float(blocking))
        return replace(fidelity, quality=quality, alpha=float(np.clip(alpha, 0.0, 1.0)))

    def forget(self, track: int) -> None:
        self._filters.pop(track, None)
