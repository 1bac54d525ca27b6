"""Five-point face alignment onto a template, and the inverse mapping back to the photo.

Two templates: ``"ffhq"`` (the default; the mean YuNet landmarks of ten FFHQ aligned faces, made symmetric, so
crops match the framing of the project's training faces) and ``"gpen"``, the one the authors' weights were
trained on (their inner padding 0.25: faces framed about 9 % smaller). A model's config names its template
(``face_template``). Both are scaled linearly to any model resolution.
"""

from __future__ import annotations

import cv2
import numpy as np

#: (x, y) at 512 px: image-left eye, image-right eye, nose tip, image-left and image-right mouth corner.
FFHQ_TEMPLATE_512 = np.array(
    [[195.373, 242.495], [316.627, 242.495], [256.000, 317.185], [202.653, 368.941], [309.347, 368.941]],
    dtype=np.float64,
)
#: the authors' template at 512 px (yangxy/GPEN's face alignment, inner padding factor 0.25), same point order
GPEN_TEMPLATE_512 = np.array(
    [[202.04, 242.88], [309.43, 242.29], [256.08, 303.96], [211.96, 366.83], [300.89, 366.34]],
    dtype=np.float64,
)
TEMPLATES_512 = {"ffhq": FFHQ_TEMPLATE_512, "gpen": GPEN_TEMPLATE_512}


def face_template(name: str, resolution: int) -> np.ndarray:
    """The 5×2 template ``name`` (a key of :data:`TEMPLATES_512`) scaled to ``resolution``."""
    if name not in TEMPLATES_512:
        raise ValueError(f"unknown face template {name!r}; known: {', '.join(TEMPLATES_512)}")
    return TEMPLATES_512[name] * (resolution / 512.0)


def resize_face(rgb: np.ndarray, size: int, interpolation: int | None = None) -> np.ndarray:
    """An aligned face (square, or nearly) at ``size``×``size``: area filter when shrinking (no aliasing),
    bicubic when enlarging, or the OpenCV ``interpolation`` flag given either way; the array itself when it
    already has that size."""
    if rgb.shape[:2] == (size, size):
        return rgb
    if interpolation is None:
        interpolation = cv2.INTER_AREA if max(rgb.shape[:2]) > size else cv2.INTER_CUBIC
    return cv2.resize(rgb, (size, size), interpolation=interpolation)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2×3 affine matrix to an N×2 array of points."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2×3 affine matrix."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def footprint(matrix: np.ndarray, resolution: int, size: tuple[int, int], pad: int = 3) -> tuple[int, int, int, int]:
    """Integer box ``(x0, y0, x1, y1)`` of the photo (``size`` = (width, height)) that a crop covers.

    Working on this region instead of the whole photo keeps warps cheap on very large images.
    """
    corners = np.array([[0, 0], [resolution, 0], [0, resolution], [resolution, resolution]], np.float64)
    pts = transform_points(corners, invert_affine(matrix))
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + pad
    w, h = size
    return max(0, x0), max(0, y0), max(min(w, x1), max(0, x0) + 1), max(min(h, y1), max(0, y0) + 1)


def shift_affine(matrix: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The transform for a sub-image whose origin is at (dx, dy) of the image ``matrix`` applies to."""
    shifted = np.asarray(matrix, np.float64).copy()
    shifted[:, 2] += shifted[:, :2] @ np.array([dx, dy], np.float64)
    return shifted


def affine_scale(matrix: np.ndarray) -> float:
    """Isotropic scale of a similarity transform (crop pixels per photo pixel)."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(matrix)[:, :2]))))


class FaceAligner:
    """Warps faces to ``resolution``×``resolution`` crops with a 5-point similarity transform.

    Args:
        resolution: crop size, the model's resolution.
        template: 5×2 landmarks at ``resolution`` (default: the FFHQ template scaled).
        antialias_below: when the crop is smaller than the face by more than this factor, the photo is first
            shrunk with ``INTER_AREA`` so the bilinear warp does not alias.
    """

    def __init__(self, resolution: int = 512, template: np.ndarray | None = None, antialias_below: float = 0.9):
        self.resolution = int(resolution)
        self.template = (np.asarray(template, np.float64) if template is not None
                         else FFHQ_TEMPLATE_512 * (self.resolution / 512.0))
        if self.template.shape != (5, 2):
            raise ValueError(f"template must be 5×2, got {self.template.shape}")
        self.antialias_below = antialias_below

    def estimate(self, landmarks: np.ndarray) -> np.ndarray:
        """Similarity transform (2×3) from photo landmarks (5×2) to the template, robust to one bad point."""
        src = np.asarray(landmarks, np.float64).reshape(5, 2)
        matrix, _ = cv2.estimateAffinePartial2D(src, self.template, method=cv2.LMEDS)
        if matrix is None:  # degenerate landmarks (e.g. all equal): fall back to least squares
            matrix, _ = cv2.estimateAffinePartial2D(src, self.template, method=0)
        if matrix is None:
            raise ValueError(f"cannot fit a similarity transform to landmarks {src.tolist()}")
        return matrix

    def warp(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crop the face: returns ``(crop, matrix)`` where ``matrix`` maps photo pixels to crop pixels."""
        matrix = self.estimate(landmarks)
        x0, y0, x1, y1 = footprint(matrix, self.resolution, (image.shape[1], image.shape[0]))
        source = image[y0:y1, x0:x1]
        local = shift_affine(matrix, x0, y0)
        scale = affine_scale(matrix)
        if scale < self.antialias_below:
            factor = min(1.0, 1.05 * scale)
            h, w = source.shape[:2]
            size = (max(1, round(w * factor)), max(1, round(h * factor)))
            source = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
            # transform on the shrunk region = transform on the region ∘ inverse of the shrink
            local = local @ np.diag([w / size[0], h / size[1], 1.0])
        crop = cv2.warpAffine(source, local, (self.resolution, self.resolution), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
        return crop, matrix

    def inverse_points(self, points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """Map crop coordinates back to the photo."""
        return transform_points(points, invert_affine(matrix))

    def inverse_warp(self, crop: np.ndarray, matrix: np.ndarray, size: tuple[int, int],
                     border_value: float = 0.0, cubic: bool = True) -> np.ndarray:
        """Warp a crop (or a mask in crop space) back into a photo of ``size`` = (width, height).

        When the photo face is smaller than the crop (scale s > 1), the crop is first low-pass filtered with
        a Gaussian of sigma (s − 1)/2 (scikit-image's anti-aliasing rule), so restored detail is not aliased;
        bicubic sampling keeps the result sharp where it is not.
        """
        scale = affine_scale(matrix)
        if scale > 1.0 / self.antialias_below:
            sigma = (scale - 1.0) / 2.0
            crop = cv2.GaussianBlur(crop, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
        flags = cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR
        return cv2.warpAffine(crop, invert_affine(matrix), size, flags=flags,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=border_value)
