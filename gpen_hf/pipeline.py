"""GPENPipeline: photo in → detect faces → align → restore in batches → paste back → photo out.

Kept apart from the model (diffusers style): the model only maps N×3×R×R tensors in [-1, 1] to the same;
all image handling — loading, detection, warps, dtype/device moves, blending — lives here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import torch
from PIL import Image

from gpen_hf.faces.align import FaceAligner, resize_face, transform_points
from gpen_hf.faces.detect import Detections, FaceDetector
from gpen_hf.faces.paste import paste_faces
from gpen_hf.image_io import ImageInput, load_image, to_pil
from gpen_hf.runtime import batch_size_for_budget, inference_context

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "assets" / "gpen-default"
#: Activation memory allowed per model call (MiB): ~2 faces of GPEN-512 in float32 (see benchmarks/RESULTS.md).
DEFAULT_MEMORY_BUDGET_MB = 2048.0
Upsampler = Callable[[np.ndarray, float], np.ndarray]


def lanczos_upsample(image: np.ndarray, factor: float) -> np.ndarray:
    """Resize an image (any channel count) by ``factor`` with Lanczos; the default background upsampler."""
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    if size == (w, h):
        return image.copy()
    interp = cv2.INTER_LANCZOS4 if factor > 1 else cv2.INTER_AREA
    return cv2.resize(image, size, interpolation=interp)


@dataclass
class GPENPipelineOutput:
    """What one call returns.

    Attributes:
        image: the restored photo (PIL image, RGBA when the input had alpha, or H×W×C uint8 array).
        restored_faces: model outputs after the ``alpha`` blend, R×R, one per face.
        cropped_faces: the aligned input crops fed to the model.
        boxes: N×4 ``x0, y0, x1, y1`` face boxes in input pixels.
        landmarks: N×5×2 landmarks in input pixels.
        scores: detector confidences (1.0 in aligned mode).
        message: a short human-readable summary (e.g. that no face was found and the input is returned).
    """

    image: Image.Image | np.ndarray
    restored_faces: list[Any] = field(default_factory=list)
    cropped_faces: list[Any] = field(default_factory=list)
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0, 5, 2), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    message: str = ""

    @property
    def num_faces(self) -> int:
        return len(self.cropped_faces)


def _model_resolution(model: torch.nn.Module, resolution: int | None) -> int:
    config = getattr(model, "config", None)
    value = getattr(config, "resolution", None) if config is not None else None
    if value is None and isinstance(config, dict):
        value = config.get("resolution")
    value = value if value is not None else resolution
    if value is None:
        raise ValueError("cannot tell the model's resolution: it has no config.resolution; pass resolution=...")
    return int(value)


def select_faces(dets: Detections, size: tuple[int, int], only_center_face: bool,
                 max_faces: int | None) -> Detections:
    """Keep the face nearest the image centre, or the ``max_faces`` largest (by eye distance)."""
    if len(dets) == 0:
        return dets
    if only_center_face:
        centres = (dets.boxes[:, :2] + dets.boxes[:, 2:]) / 2
        dist = np.linalg.norm(centres - np.array(size, np.float32) / 2, axis=1)
        return dets.select([int(np.argmin(dist))])
    if max_faces is not None and len(dets) > max_faces:
        return dets.select(np.argsort(-dets.inter_ocular(), kind="stable")[:max_faces])
    return dets


def use_fastest_path(model: torch.nn.Module, device: torch.device) -> None:
    """Pick the implementation measured fastest on ``device`` (same maths; on CPU the outputs agree within 5e-6).

    On CPUs ``"folded"`` (channels_last, depthwise FIR convolutions, style folded into weights) wins 1.4–2x; on
    CUDA the authors' ``"grouped"`` form was 4–29 % faster (H200, ``benchmarks/RESULTS.md``, GPU).
    """
    from gpen_hf.models.implementation import set_implementation

    set_implementation(model, "grouped" if device.type == "cuda" else "folded")


class GPENPipeline:
    """Blind face restoration of whole photos (or aligned faces) with a GPEN model.

    Args:
        model: a ``GPENModel`` or any module mapping N×3×R×R in [-1, 1] to an output with ``.sample``
            (or a tensor / tuple whose first item is the tensor).
        detector: face detector (default: YuNet :class:`FaceDetector`, created on first use).
        aligner: face aligner (default: FFHQ template at the model's resolution).
        resolution: the model's input size, when ``model.config.resolution`` does not exist.
    """

    def __init__(self, model: torch.nn.Module, detector: FaceDetector | None = None,
                 aligner: FaceAligner | None = None, resolution: int | None = None) -> None:
        self.model = model.eval()
        use_fastest_path(self.model, self.device)
        self.resolution = _model_resolution(model, resolution)
        self._detector = detector
        self.aligner = aligner if aligner is not None else FaceAligner(self.resolution)
        if self.aligner.resolution != self.resolution:
            raise ValueError(f"aligner resolution {self.aligner.resolution} != model resolution {self.resolution}")

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | Path | None = None, torch_dtype: torch.dtype | None = None,
                        device: str | torch.device = "cpu", subfolder: str | None = None,
                        **kwargs: Any) -> GPENPipeline:
        """Load a ``GPENModel`` (local folder or Hub repo id) and wrap it; ``None`` means the shipped model."""
        from gpen_hf.models.gpen import GPENModel

        if path_or_repo_id is None:
            if not (DEFAULT_MODEL_DIR / "config.json").is_file():
                raise FileNotFoundError(
                    f"no default model: {DEFAULT_MODEL_DIR} does not exist yet (the trained model has not "
                    "shipped). Pass a model folder or Hub repo id, e.g. --model path/to/gpen-model.")
            path_or_repo_id = DEFAULT_MODEL_DIR
        load_kwargs: dict[str, Any] = {"subfolder": subfolder} if subfolder else {}
        if torch_dtype is not None:
            load_kwargs["torch_dtype"] = torch_dtype
        model = GPENModel.from_pretrained(str(path_or_repo_id), **load_kwargs, **kwargs)
        return cls(model.to(device))

    @classmethod
    def from_onnx(cls, path: str | Path, threads: int | None = None, **kwargs: Any) -> GPENPipeline:
        """Wrap a graph written by ``gpen-hf export-onnx`` (run by onnxruntime on the CPU, fp32)."""
        from gpen_hf.export import OnnxRuntimeGPEN

        model = OnnxRuntimeGPEN(path, threads)
        return cls(model, resolution=model.resolution, **kwargs)

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            self._detector = FaceDetector()
        return self._detector

    @property
    def device(self) -> torch.device:
        param = next(self.model.parameters(), None)
        return param.device if param is not None else torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        param = next(self.model.parameters(), None)
        return param.dtype if param is not None else torch.float32

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> GPENPipeline:
        self.model.to(device=device, dtype=dtype)
        use_fastest_path(self.model, self.device)
        return self

    def restore_faces(self, crops: list[np.ndarray], batch_size: int = 4,
                      autocast_dtype: str | torch.dtype | None = None,
                      memory_budget_mb: float | None = DEFAULT_MEMORY_BUDGET_MB) -> list[np.ndarray]:
        """Run the model on aligned R×R×3 uint8 crops, ``batch_size`` at a time; returns uint8 crops.

        ``autocast_dtype`` ("bf16"/"fp16"/torch dtype) runs the model under autocast; ``memory_budget_mb`` caps the batch
        so the estimated activations of one batch fit in it (None: no cap). Only one batch is alive at a time.
        """
        batch_size = batch_size_for_budget(self.model, memory_budget_mb, batch_size)
        restored: list[np.ndarray] = []
        for start in range(0, len(crops), batch_size):
            batch = np.stack(crops[start:start + batch_size])
            with inference_context(self.device, autocast_dtype):
                restored.extend(self._restore_batch(batch))
        return restored

    def _restore_batch(self, batch: np.ndarray) -> list[np.ndarray]:
        """One model call on an (N, R, R, 3) uint8 batch (inside ``inference_context``)."""
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).to(self.device, dtype=self.dtype) / 127.5 - 1.0
        out = self.model(x)
        out = out.sample if hasattr(out, "sample") else (out[0] if isinstance(out, (tuple, list)) else out)
        if out.shape != x.shape:
            raise RuntimeError(f"model returned shape {tuple(out.shape)} for input {tuple(x.shape)}")
        out = ((out.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
        return list(out.cpu().numpy())

    def _aligned(self, rgb: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], Detections]:
        """The whole input is one aligned face: resize to R×R; its 'matrix' is the plain resize."""
        h, w = rgb.shape[:2]
        r = self.resolution
        crop = resize_face(rgb, r)
        matrix = np.array([[r / w, 0, 0], [0, r / h, 0]], np.float64)
        landmarks = transform_points(self.aligner.template, np.array([[w / r, 0, 0], [0, h / r, 0]]))
        dets = Detections(np.array([[0, 0, w, h]], np.float32), landmarks[None].astype(np.float32),
                          np.ones(1, np.float32))
        return [crop], [matrix], dets

    def __call__(
        self,
        image: ImageInput,
        *,
        aligned: bool = False,
        alpha: float = 1.0,
        upscale: float = 1.0,
        only_center_face: bool = False,
        max_faces: int | None = None,
        batch_size: int = 4,
        background_upsampler: Upsampler | None = None,
        output_type: Literal["pil", "np"] = "pil",
        autocast_dtype: str | torch.dtype | None = None,
        memory_budget_mb: float | None = DEFAULT_MEMORY_BUDGET_MB,
    ) -> GPENPipelineOutput:
        """Restore every face of ``image`` (path, PIL image or RGB/RGBA numpy array).

        Args:
            aligned: the input is already an aligned face crop; skip detection and paste-back.
            alpha: fidelity blend, 1 = model output only, 0 = the input face.
            upscale: output size factor; the background is resized by ``background_upsampler``.
            only_center_face / max_faces: restore just the face nearest the centre / the largest ones.
            batch_size: faces per model call.
            background_upsampler: ``f(image, factor) -> image``, used when ``upscale`` is not 1 (None:
                :func:`lanczos_upsample`).
            output_type: ``"pil"`` or ``"np"`` (uint8 arrays).
            autocast_dtype: run the model under autocast in this dtype (``"bf16"``, ``"fp16"``); None: in the
                parameters' dtype (``pipe.dtype``; choose it when loading, with ``torch_dtype``).
            memory_budget_mb: cap on the estimated activation memory of one model call (None: no cap).
        """
        if output_type not in ("pil", "np"):
            raise ValueError(f"output_type must be 'pil' or 'np', got {output_type!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if upscale <= 0:
            raise ValueError(f"upscale must be > 0, got {upscale}")
        loaded = load_image(image)
        rgb = loaded.rgb
        h, w = rgb.shape[:2]
        if aligned:
            crops, matrices, dets = self._aligned(rgb)
        else:
            dets = select_faces(self.detector.detect(rgb), (w, h), only_center_face, max_faces)
            warped = [self.aligner.warp(rgb, lm) for lm in dets.landmarks]
            crops, matrices = [c for c, _ in warped], [m for _, m in warped]

        restored = self.restore_faces(crops, batch_size, autocast_dtype, memory_budget_mb) if crops else []
        if alpha < 1.0:
            restored = [np.rint(alpha * r + (1 - alpha) * c).astype(np.uint8) for r, c in zip(restored, crops)]

        upsample = background_upsampler or lanczos_upsample
        background = upsample(rgb, upscale) if upscale != 1.0 else rgb
        out_alpha = loaded.alpha
        if out_alpha is not None and upscale != 1.0:
            out_alpha = lanczos_upsample(out_alpha, upscale)
        out_h, out_w = background.shape[:2]
        to_out = np.diag([w / out_w, h / out_h, 1.0])  # output pixels → input pixels
        out_matrices = [np.asarray(m) @ to_out for m in matrices]
        if aligned:
            result = cv2.resize(restored[0], (out_w, out_h),
                                interpolation=cv2.INTER_AREA if out_w < self.resolution else cv2.INTER_CUBIC)
        else:
            result = paste_faces(background, restored, out_matrices, self.aligner) if restored else background
        message = (f"{len(crops)} face(s) restored" if crops
                   else "no face found; the input is returned unchanged" + (" (upscaled)" if upscale != 1 else ""))
        if not crops:
            logger.info("%s: %s", loaded.source, message)
        return self._output(result, out_alpha, restored, crops, dets, message, output_type)

    @staticmethod
    def _output(result: np.ndarray, alpha: np.ndarray | None, restored: list[np.ndarray], crops: list[np.ndarray],
                dets: Detections, message: str, output_type: str) -> GPENPipelineOutput:
        if output_type == "pil":
            image: Any = to_pil(result, alpha)
            restored_out: list[Any] = [to_pil(r) for r in restored]
            crops_out: list[Any] = [to_pil(c) for c in crops]
        else:
            image = result if alpha is None else np.dstack([result, alpha])
            restored_out, crops_out = list(restored), list(crops)
        return GPENPipelineOutput(image, restored_out, crops_out, dets.boxes, dets.landmarks, dets.scores, message)
