"""Face detection with YuNet through ``cv2.FaceDetectorYN``: boxes, five landmarks and scores.

YuNet's anchors stop at about 256 px, so a single pass misses big faces in big photos and small faces in
small ones. ``FaceDetector`` runs it at a few scales (a copy whose long side is ``base_size``, the native
size when that is not too large, and 2× for small photos), then merges the detections: non-maximum
suppression across scales, and part-face boxes inside a bigger face are dropped. Very large photos are
only ever seen through downscaled copies; the coordinates returned are always in the input's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "assets" / "face_detection_yunet_2023mar.onnx"


@dataclass
class Detections:
    """Faces found in one image, sorted by score (best first).

    Attributes:
        boxes: N×4 float32 ``x0, y0, x1, y1`` in input pixels.
        landmarks: N×5×2 float32 (image-left eye, image-right eye, nose, left and right mouth corner).
        scores: N float32 detector confidences.
    """

    boxes: np.ndarray
    landmarks: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, index: np.ndarray | list[int]) -> Detections:
        """A subset, in the order of ``index``."""
        index = np.asarray(index, dtype=np.int64)
        return Detections(self.boxes[index], self.landmarks[index], self.scores[index])

    def inter_ocular(self) -> np.ndarray:
        """Distance between the two eye landmarks, in pixels (a face-size measure)."""
        return np.linalg.norm(self.landmarks[:, 1] - self.landmarks[:, 0], axis=1)

    @staticmethod
    def empty() -> Detections:
        return Detections(np.zeros((0, 4), np.float32), np.zeros((0, 5, 2), np.float32), np.zeros(0, np.float32))


def _iou_and_cover(box: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IoU of ``box`` with each of ``others``, and the fraction of ``box`` covered by each."""
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-6), inter / max(float(area), 1e-6)


def merge_detections(dets: Detections, iou_threshold: float = 0.3, cover_threshold: float = 0.6) -> Detections:
    """Greedy NMS across scales, then drop boxes mostly inside a box at least twice their area."""
    order = np.argsort(-dets.scores)
    kept: list[int] = []
    for i in order:
        if kept:
            iou, _ = _iou_and_cover(dets.boxes[i], dets.boxes[kept])
            if (iou > iou_threshold).any():
                continue
        kept.append(int(i))
    dets = dets.select(kept)
    areas = (dets.boxes[:, 2] - dets.boxes[:, 0]) * (dets.boxes[:, 3] - dets.boxes[:, 1])
    final = []
    for i in range(len(dets)):
        _, cover = _iou_and_cover(dets.boxes[i], dets.boxes)
        inside_bigger = (cover > cover_threshold) & (areas >= 2 * areas[i])
        if not inside_bigger.any():
            final.append(i)
    return dets.select(final)


class FaceDetector:
    """YuNet face detector (model shipped in ``gpen_hf/assets``) with multi-scale search.

    Args:
        model_path: the ONNX file; defaults to the vendored ``face_detection_yunet_2023mar.onnx``.
        score_threshold: minimum confidence (0.6 as used to build the project's face set).
        nms_threshold: YuNet's own NMS IoU threshold within one scale.
        base_size: long side of the always-run downscaled pass.
        max_native_size: long side up to which the photo is also searched at full size.
        upsample_below: long side under which a 2× pass is added for small faces.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
        base_size: int = 640,
        max_native_size: int = 2048,
        upsample_below: int = 1400,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else DEFAULT_MODEL
        if not self.model_path.is_file():
            raise FileNotFoundError(f"YuNet model not found at {self.model_path}; expected the ONNX file shipped "
                                    "in gpen_hf/assets (reinstall the package).")
        self.score_threshold = score_threshold
        self.base_size = base_size
        self.max_native_size = max_native_size
        self.upsample_below = upsample_below
        self._net = cv2.FaceDetectorYN.create(str(self.model_path), "", (320, 320), score_threshold,
                                              nms_threshold, top_k)

    def _scales(self, height: int, width: int) -> list[float]:
        """Resize factors to search at, from the photo's long side."""
        long_side = max(height, width)
        scales = [min(1.0, self.base_size / long_side)]
        if long_side <= self.max_native_size:
            scales.append(1.0)
        else:
            scales.append(self.max_native_size / long_side)
        if long_side <= self.upsample_below:
            scales.append(2.0)
        return sorted({round(s, 6) for s in scales})

    def _detect_once(self, bgr: np.ndarray, scale: float) -> Detections:
        h, w = bgr.shape[:2]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        image = bgr if size == (w, h) else cv2.resize(bgr, size, interpolation=interp)
        self._net.setInputSize(size)
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # OpenCV 5 warns on every first run
        try:
            _, faces = self._net.detect(image)
        finally:
            cv2.utils.logging.setLogLevel(level)
        if faces is None or len(faces) == 0:
            return Detections.empty()
        faces = faces.astype(np.float32)
        sx, sy = w / size[0], h / size[1]
        boxes = faces[:, 0:4].copy()
        boxes[:, 2:4] += boxes[:, 0:2]
        boxes *= np.array([sx, sy, sx, sy], np.float32)
        landmarks = faces[:, 4:14].reshape(-1, 5, 2) * np.array([sx, sy], np.float32)
        return Detections(boxes, landmarks, faces[:, 14])

    def detect(self, rgb: np.ndarray) -> Detections:
        """Find faces in an RGB ``uint8`` H×W×3 image; coordinates are in the image's pixels."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"FaceDetector.detect expects RGB uint8 H×W×3, got {rgb.dtype} {rgb.shape}")
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        found = [self._detect_once(bgr, s) for s in self._scales(*rgb.shape[:2])]
        found = [d for d in found if len(d)]
        if not found:
            return Detections.empty()
        merged = Detections(*(np.concatenate([getattr(d, f) for d in found]) for f in ("boxes", "landmarks", "scores")))
        return merge_detections(merged)

    __call__ = detect
