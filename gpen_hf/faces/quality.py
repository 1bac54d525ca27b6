"""How degraded a face is, measured without a reference: blur, noise and JPEG blocking, and a 0–1 score.

The pipeline's automatic fidelity (``alpha="auto"``) blends each restored face in by this score, so a sharp
face is left almost as it was and a degraded one is fully restored. All three measures are classic and cheap:

* **noise**: Immerkær's fast estimate (a Laplacian-difference filter's mean absolute response, σ on the 0–255
  scale; it reads about 0.7 σ of added Gaussian noise) over the flattest half of the photo around the face, so
  edges and texture do not count as noise;
* **blur**: the share of the face's gradient energy in the top octave of an aligned crop at the face's own
  scale in the photo (:func:`analysis_crop`), after taking out what the crop's noise puts there; sharp faces
  of the training photos have a median of 0.12, the same photos 2× down-and-up 0.08, 4× 0.03;
* **blocking**: JPEG's 8×8 grid in the *photo* (mean step across block borders ÷ mean step elsewhere; 1 = none).

Each is mapped linearly between a "clean" and a "degraded" level (:data:`THRESHOLDS`, chosen on the 43 faces
with IOD ≥ 60 px of every third ``train`` photo of ``shared/data/faces``, clean and degraded, with
``benchmarks/bench_photo_fidelity.py thresholds``) and the score is 1 − Π(1 − sᵢ): it
rises with each degradation and is 0 only when the face looks clean on all three.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import cv2
import numpy as np

from gpen_hf.faces.align import FFHQ_TEMPLATE_512, FaceAligner
from gpen_hf.faces.mask import face_region_mask

#: (clean, degraded) levels of each measure; between them its score goes linearly from 0 to 1.
THRESHOLDS: dict[str, tuple[float, float]] = {"sharpness": (0.08, 0.025), "noise": (1.5, 4.5),
                                              "blocking": (1.2, 2.2)}
ANALYSIS_MIN, ANALYSIS_MAX = 64, 512
_TEMPLATE_IOD = float(np.linalg.norm(FFHQ_TEMPLATE_512[1] - FFHQ_TEMPLATE_512[0]))
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


@dataclass(frozen=True)
class FaceQuality:
    """The degradation estimate of one face.

    Attributes:
        sharpness: share of gradient energy in the crop's top octave, noise removed (higher = sharper).
        noise: noise standard deviation in the crop, 0–255 scale.
        blocking: JPEG 8×8 blocking ratio in the photo around the face (1 = none).
        score: 0 = clean, 1 = degraded (what ``alpha="auto"`` uses).
    """

    sharpness: float
    noise: float
    blocking: float
    score: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}

    def summary(self) -> str:
        """One short line, e.g. for a gallery caption."""
        return (f"degradation {self.score:.2f} (sharpness {self.sharpness:.2f}, noise σ {self.noise:.1f}, "
                f"JPEG blocking {self.blocking:.2f})")


def _gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)
    return image.astype(np.float32)


def noise_sigma(gray: np.ndarray, weight: np.ndarray | None = None, flat_fraction: float = 0.5) -> float:
    """Immerkær's noise σ (0–255 scale) over the ``flat_fraction`` lowest-gradient pixels (within ``weight``)."""
    g = _gray(gray)
    if min(g.shape) < 8:
        return 0.0
    response = np.abs(cv2.filter2D(g, cv2.CV_32F, _IMMERKAER))[1:-1, 1:-1]
    grad = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))[1:-1, 1:-1]
    keep = np.ones(response.shape, bool) if weight is None else np.asarray(weight)[1:-1, 1:-1] > 0.5
    if keep.sum() < 16:
        keep = np.ones(response.shape, bool)
    flat = grad[keep] <= np.quantile(grad[keep], flat_fraction)
    return float(np.sqrt(np.pi / 2) / 6.0 * response[keep][flat].mean())


def _top_octave_energy(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel gradient energy of ``g`` and of its top octave (``g`` minus a Gaussian of sigma 1)."""
    def energy(x: np.ndarray) -> np.ndarray:
        return cv2.Sobel(x, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(x, cv2.CV_32F, 0, 1) ** 2

    return energy(g), energy(g - cv2.GaussianBlur(g, (0, 0), 1.0))


@lru_cache(maxsize=1)
def _noise_top_octave_gain() -> float:
    """Top-octave gradient energy per unit noise variance (white Gaussian noise, measured once)."""
    noise = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    return float(_top_octave_energy(noise)[1][8:-8, 8:-8].mean())


def sharpness(gray: np.ndarray, weight: np.ndarray | None = None, noise: float = 0.0) -> float:
    """Share of the gradient energy in the top octave, inside ``weight`` (noise energy subtracted)."""
    g = _gray(gray)
    total, top = _top_octave_energy(g)
    w = np.ones(g.shape, np.float32) if weight is None else np.asarray(weight, np.float32)
    w = w[2:-2, 2:-2]
    total, top = float((total[2:-2, 2:-2] * w).sum() / w.sum()), float((top[2:-2, 2:-2] * w).sum() / w.sum())
    top = max(top - noise**2 * _noise_top_octave_gain(), 0.0)
    return top / max(total, 1e-6)


def blocking(gray: np.ndarray, period: int = 8) -> float:
    """JPEG blocking ratio of a photo region whose origin is on the photo's 8×8 grid (1 = no blocking)."""
    g = _gray(gray)
    ratios = []
    for axis in (1, 0):
        step = np.abs(np.diff(g, axis=axis)).mean(axis=1 - axis)  # mean step between column/row k and k+1
        if step.size < 4 * period:
            continue
        border = np.arange(step.size) % period == period - 1
        ratios.append(step[border].mean() / max(step[~border].mean(), 1e-3))
    return float(np.mean(ratios)) if ratios else 1.0


def _ramp(value: float, clean: float, degraded: float) -> float:
    return float(np.clip((value - clean) / (degraded - clean), 0.0, 1.0))


def analysis_crop(image: np.ndarray, landmarks: np.ndarray, min_size: int = ANALYSIS_MIN,
                  max_size: int = ANALYSIS_MAX) -> np.ndarray:
    """The face aligned at about one crop pixel per pixel of ``image`` (clamped to [min_size, max_size]):
    blur, noise and blocking are judged at the scale the face has in the photo, not at the model's."""
    iod = float(np.linalg.norm(np.asarray(landmarks)[1] - np.asarray(landmarks)[0]))
    size = int(np.clip(round(512 * iod / _TEMPLATE_IOD), min_size, max_size))
    crop, _ = FaceAligner(size).warp(image, landmarks)
    return crop


def photo_block_region(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The photo around the face's eyes and mouth, its origin on the photo's 8×8 grid (for :func:`blocking`)."""
    pts = np.asarray(landmarks, np.float64)
    iod = max(float(np.linalg.norm(pts[1] - pts[0])), 8.0)
    x0, y0 = (np.floor((pts.min(axis=0) - 0.5 * iod) / 8) * 8).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0) + 0.5 * iod).astype(int)
    h, w = image.shape[:2]
    x0, y0 = max(0, x0) // 8 * 8, max(0, y0) // 8 * 8
    return image[y0:min(h, y1), x0:min(w, x1)]


def estimate_quality(crop: np.ndarray, weight: np.ndarray | None = None,
                     photo_region: np.ndarray | None = None) -> FaceQuality:
    """Degradation of the face in an aligned ``crop`` (best: :func:`analysis_crop`), inside the crop-space
    ``weight`` (e.g. the face mask at the crop's size); ``photo_region`` (:func:`photo_block_region`) gives
    the JPEG blocking on the photo's own 8×8 grid, else it is measured on the crop."""
    g = _gray(crop)
    if weight is None:
        weight = face_region_mask(g.shape[0])
    region = _gray(photo_region) if photo_region is not None and min(photo_region.shape[:2]) >= 16 else None
    sigma = noise_sigma(region) if region is not None else noise_sigma(g, weight)
    # the crop's own noise (resampling averages it) is what sits in its top octave
    sharp = sharpness(g, weight, noise_sigma(g, weight))
    block = blocking(region if region is not None else g)
    parts = [_ramp(sharp, *THRESHOLDS["sharpness"]), _ramp(sigma, *THRESHOLDS["noise"]),
             _ramp(block, *THRESHOLDS["blocking"])]
    score = 1.0 - float(np.prod([1.0 - p for p in parts]))
    return FaceQuality(sharp, sigma, block, score)
