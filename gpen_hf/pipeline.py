"""GPENPipeline: photo in → detect faces → align → restore in batches → paste back → photo out.

Kept apart from the model (diffusers style): the model only maps N×3×R×R tensors in [-1, 1] to the same;
all image handling — loading, detection, warps, dtype/device moves, blending — lives here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import torch
from PIL import Image

from gpen_hf.faces.align import FaceAligner, face_template, resize_face, transform_points
from gpen_hf.faces.blend import band_split, match_colour, residual_noise_gain, signal_gate
from gpen_hf.faces.detect import Detections, FaceDetector
from gpen_hf.faces.mask import MASK_KINDS, crop_mask, feather_parsing_mask
from gpen_hf.faces.paste import paste_faces
from gpen_hf.faces.quality import THRESHOLDS, analysis_crop, estimate_quality, photo_block_region
from gpen_hf.fidelity import FaceFidelity, IdentityGuard, alpha_from_quality, blend_crops
from gpen_hf.image_io import ImageInput, load_image, to_pil
from gpen_hf.runtime import batch_size_for_budget, inference_context
from gpen_hf.upsample import Upsampler, get_upsampler, lanczos_upsample

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "assets" / "gpen-default"
#: Activation memory allowed per model call (MiB): ~2 faces of GPEN-512 in float32 (see benchmarks/RESULTS.md).
DEFAULT_MEMORY_BUDGET_MB = 2048.0
#: the resolution face-parsing networks (ParseNet) work at
PARSING_RESOLUTION = 512


def check_paste_options(alpha: float | str, mask: str, parsing_model: torch.nn.Module | None) -> None:
    """The paste-back options photos and videos share: ``alpha`` "auto" or in [0, 1], a known ``mask``, and
    a face-parsing model when ``mask="parsing"``; a clear error otherwise."""
    if alpha != "auto" and (isinstance(alpha, str) or not 0.0 <= float(alpha) <= 1.0):
        raise ValueError(f"alpha must be 'auto' or a number in [0, 1], got {alpha!r}")
    if mask not in MASK_KINDS:
        raise ValueError(f"mask must be one of {MASK_KINDS}, got {mask!r}")
    if mask == "parsing" and parsing_model is None:
        raise ValueError("mask='parsing' needs a face-parsing model: GPENPipeline(..., parsing_model=...) "
                         "(CLI: --parsenet PATH)")


@dataclass
class GPENPipelineOutput:
    """What one call returns.

    Attributes:
        image: the restored photo (PIL image, RGBA when the input had alpha, or H×W×C uint8 array).
        restored_faces: model outputs after colour matching and the ``alpha`` blend, R×R, one per face.
        cropped_faces: the aligned input crops fed to the model.
        boxes: N×4 ``x0, y0, x1, y1`` face boxes in input pixels.
        landmarks: N×5×2 landmarks in input pixels.
        scores: detector confidences (1.0 in aligned mode).
        message: a short human-readable summary (e.g. that no face was found and the input is returned).
        fidelity: per face, the degradation estimate, the blend weight used and the identity check
            (:class:`gpen_hf.fidelity.FaceFidelity`), i.e. why the face was or wasn't changed.
    """

    image: Image.Image | np.ndarray
    restored_faces: list[Any] = field(default_factory=list)
    cropped_faces: list[Any] = field(default_factory=list)
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0, 5, 2), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    message: str = ""
    fidelity: list[FaceFidelity] = field(default_factory=list)

    @property
    def num_faces(self) -> int:
        return len(self.cropped_faces)


def _config_value(model: torch.nn.Module, key: str) -> Any:
    config = getattr(model, "config", None)
    value = getattr(config, key, None) if config is not None else None
    if value is None and isinstance(config, dict):
        value = config.get(key)
    return value


def _model_resolution(model: torch.nn.Module, resolution: int | None) -> int:
    value = _config_value(model, "resolution")
    value = value if value is not None else resolution
    if value is None:
        raise ValueError("cannot tell the model's resolution: it has no config.resolution; pass resolution=...")
    return int(value)


def _noise(quality) -> float:
    """The photo's noise σ around a face (0 when it was not measured: only the gate's noise floor)."""
    return float(quality.noise) if quality is not None else 0.0


def _blocking_part(quality) -> float:
    """How JPEG-blocked a face is, 0–1 (closes the band-split's signal gate)."""
    if quality is None:
        return 0.0
    clean, blocked = THRESHOLDS["blocking"]
    return float(np.clip((quality.blocking - clean) / (blocked - clean), 0.0, 1.0))


def load_parsing_model(model: torch.nn.Module | str | Path) -> torch.nn.Module:
    """A face-parsing network as given, or ParseNet loaded from an official weight file (``ParseNet-latest.pth``)."""
    if isinstance(model, torch.nn.Module):
        return model.eval()
    path = Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"face-parsing weights not found: {path} (expected ParseNet-latest.pth or "
                                "facexlib's parsing_parsenet.pth)")
    from gpen_hf.models.parsenet import ParseNet

    return ParseNet.from_original_checkpoint(path).eval()


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
        aligner: face aligner (default: the template the model's config names, ``face_template``: the authors'
            for their weights, FFHQ for ours, at the model's resolution).
        resolution: the model's input size, when ``model.config.resolution`` does not exist.
        parsing_model: a face-parsing network for ``mask="parsing"`` (e.g. ``ParseNet``: N×3×512×512 in
            [-1, 1] to an output with ``.parsing_logits``), or the path of its weight file.
        identity_guard: the guard used when ``identity_guard=True`` (default: :class:`IdentityGuard`).
    """

    def __init__(self, model: torch.nn.Module, detector: FaceDetector | None = None,
                 aligner: FaceAligner | None = None, resolution: int | None = None,
                 parsing_model: torch.nn.Module | str | Path | None = None,
                 identity_guard: IdentityGuard | None = None) -> None:
        self.model = model.eval()
        self.parsing_model = load_parsing_model(parsing_model) if parsing_model is not None else None
        self.guard = identity_guard if identity_guard is not None else IdentityGuard()
        use_fastest_path(self.model, self.device)
        self.resolution = _model_resolution(model, resolution)
        self._detector = detector
        template = face_template(_config_value(model, "face_template") or "ffhq", self.resolution)
        self.aligner = aligner if aligner is not None else FaceAligner(self.resolution, template)
        self._upsamplers: dict[str, Upsampler] = {}
        if self.aligner.resolution != self.resolution:
            raise ValueError(f"aligner resolution {self.aligner.resolution} != model resolution {self.resolution}")

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | Path | None = None, torch_dtype: torch.dtype | None = None,
                        device: str | torch.device = "cpu", subfolder: str | None = None,
                        parsing_model: torch.nn.Module | str | Path | None = None,
                        **kwargs: Any) -> GPENPipeline:
        """Load a ``GPENModel`` and wrap it: a folder, Hub repo id, registry name (``"gpen-bfr-512"``, fetched and
        converted on first use) or an authors' ``.pth``; ``None`` means the shipped model."""
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
        return cls(model.to(device), parsing_model=parsing_model)

    @classmethod
    def from_onnx(cls, path: str | Path, threads: int | None = None, **kwargs: Any) -> GPENPipeline:
        """Wrap a graph written by ``gpen-hf export-onnx`` (run by onnxruntime on the CPU, fp32)."""
        from gpen_hf.export import OnnxRuntimeGPEN

        model = OnnxRuntimeGPEN(path, threads)
        kwargs.setdefault("aligner", FaceAligner(model.resolution, face_template(model.face_template, model.resolution)))
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

        ``autocast_dtype`` ("bf16"/"fp16"/torch dtype) runs the model under autocast; ``memory_budget_mb`` caps
        the batch so the estimated activations of one batch fit in it (None: no cap). Only one batch is alive at a
        time.
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
        alpha: float | Literal["auto"] = "auto",
        mask: str = "face",
        colour_match: bool = True,
        identity_guard: bool = True,
        upscale: float = 1.0,
        only_center_face: bool = False,
        max_faces: int | None = None,
        batch_size: int = 4,
        background_upsampler: Upsampler | str | None = lanczos_upsample,
        output_type: Literal["pil", "np"] = "pil",
        autocast_dtype: str | torch.dtype | None = None,
        memory_budget_mb: float | None = DEFAULT_MEMORY_BUDGET_MB,
    ) -> GPENPipelineOutput:
        """Restore every face of ``image`` (path, PIL image or RGB/RGBA numpy array).

        Args:
            aligned: the input is already an aligned face crop; skip detection and paste-back.
            alpha: fidelity blend per face: ``"auto"`` (default) from each face's measured degradation (a clean
                face is left almost as it is), or a number for all faces, 1 = model output, 0 = the input face.
            mask: where a face is pasted: ``"face"`` (the face region, default), ``"parsing"`` (the pipeline's
                ``parsing_model``) or ``"square"`` (the whole crop minus a margin).
            colour_match: give restored faces the photo's low-frequency colour inside the mask.
            identity_guard: lower a face's ``alpha`` when the blended face's identity strays from the input's.
            upscale: output size factor; the background is resized by ``background_upsampler``.
            only_center_face / max_faces: restore just the face nearest the centre / the largest ones.
            batch_size: faces per model call.
            background_upsampler: ``f(image, factor) -> image``, or a name: ``"lanczos"``, ``"realesrnet-x2"``
                (the authors' Real-ESRNet, fetched on first use, tiled); ``None`` leaves the background at input
                size when ``upscale`` is 1 and uses Lanczos otherwise.
            output_type: ``"pil"`` or ``"np"`` (uint8 arrays).
            autocast_dtype: run the model under autocast in this dtype (``"bf16"``, ``"fp16"``); None: in the
                parameters' dtype (``pipe.dtype``; choose it when loading, with ``torch_dtype``).
            memory_budget_mb: cap on the estimated activation memory of one model call (None: no cap).
        """
        if output_type not in ("pil", "np"):
            raise ValueError(f"output_type must be 'pil' or 'np', got {output_type!r}")
        check_paste_options(alpha, mask, self.parsing_model)
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
        masks = self.paste_masks(crops, "square" if aligned else mask)
        if colour_match:
            restored = [match_colour(r, c, m) for r, c, m in zip(restored, crops, masks)]

        upsample = self._upsampler(background_upsampler) if upscale != 1.0 else lanczos_upsample
        background = upsample(rgb, upscale) if upscale != 1.0 else rgb
        out_alpha = loaded.alpha
        if out_alpha is not None and upscale != 1.0:
            out_alpha = lanczos_upsample(out_alpha, upscale)
        out_h, out_w = background.shape[:2]
        to_out = np.diag([w / out_w, h / out_h, 1.0])  # output pixels → input pixels
        out_matrices = [np.asarray(m) @ to_out for m in matrices]
        out_landmarks = dets.landmarks * np.array([out_w / w, out_h / h], np.float32)
        fidelity = [self.face_fidelity(r, c, rgb, lm, alpha, identity_guard, background, olm)
                    for r, c, lm, olm in zip(restored, crops, dets.landmarks, out_landmarks)]
        if aligned:
            f = fidelity[0]
            result = self._paste_aligned(background, restored[0], crops[0], f.alpha, _noise(f.quality),
                                         _blocking_part(f.quality))
        else:
            result = self.paste_back(background, restored, crops, out_matrices, masks, fidelity)
        blended = [blend_crops(r, c, f.alpha) for r, c, f in zip(restored, crops, fidelity)]
        message = (f"{len(crops)} face(s) restored" if crops
                   else "no face found; the input is returned unchanged" + (" (upscaled)" if upscale != 1 else ""))
        if not crops:
            logger.info("%s: %s", loaded.source, message)
        out = self._output(result, out_alpha, blended, crops, dets, message, output_type)
        out.fidelity = fidelity
        return out

    def paste_masks(self, crops: list[np.ndarray], kind: str) -> list[np.ndarray]:
        """Crop-space paste masks of ``kind`` (:data:`MASK_KINDS`), one per face (a parsing mask is computed
        per face, by ``parsing_model``)."""
        if kind != "parsing":
            return [crop_mask(kind, self.resolution)] * len(crops)
        if not crops:
            return []
        from gpen_hf.faces.parsing import FACE_ONLY_MASK_VALUES, face_mask_from_parsing

        net = self.parsing_model
        param = next(net.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        size = int(getattr(getattr(net, "config", None), "in_size", PARSING_RESOLUTION))
        batch = np.stack([resize_face(c, size, cv2.INTER_CUBIC) for c in crops])
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().to(device) / 127.5 - 1.0
        with torch.no_grad():
            out = net(x)
        logits = out.parsing_logits if hasattr(out, "parsing_logits") else out
        hard = np.asarray(face_mask_from_parsing(logits, FACE_ONLY_MASK_VALUES), np.float32)
        r = self.resolution
        return [feather_parsing_mask(resize_face(m, r, cv2.INTER_AREA)) for m in hard]

    def face_fidelity(self, restored: np.ndarray, crop: np.ndarray, photo: np.ndarray, landmarks: np.ndarray,
                      alpha: float | str, guard: bool, background: np.ndarray | None = None,
                      out_landmarks: np.ndarray | None = None) -> FaceFidelity:
        """One face's degradation (measured in ``background``, the output canvas, default ``photo``, at
        ``out_landmarks``; it also sets the paste's signal gate) and blend weight: from the degradation
        (``alpha="auto"``) or given, then checked by the identity guard."""
        canvas = photo if background is None else background
        quality = estimate_quality(analysis_crop(canvas, landmarks if out_landmarks is None else out_landmarks),
                                   None, photo_block_region(photo, landmarks))
        weight = alpha_from_quality(quality) if alpha == "auto" else float(alpha)
        if not guard or weight <= 0.0:
            return FaceFidelity(quality, weight)
        weight_after, similarity, lowered = self.guard(restored, crop, weight)
        return FaceFidelity(quality, weight_after, similarity, lowered)

    def paste_back(self, background: np.ndarray, restored: list[np.ndarray], crops: list[np.ndarray],
                   matrices: list[np.ndarray], masks: list[np.ndarray],
                   fidelity: list[FaceFidelity]) -> np.ndarray:
        """Blend restored faces into ``background`` (band-split, per-face ``alpha`` and signal gate from
        ``fidelity``); ``matrices`` map ``background`` pixels to crop pixels. Photos and videos both use it."""
        if not restored:
            return background
        return paste_faces(background, restored, matrices, self.aligner, masks, crops,
                           [f.alpha for f in fidelity], [_noise(f.quality) for f in fidelity],
                           [_blocking_part(f.quality) for f in fidelity])

    def _paste_aligned(self, photo: np.ndarray, restored: np.ndarray, crop: np.ndarray, alpha: float,
                       noise: float, blocking: float) -> np.ndarray:
        """The aligned-input case of the band-split blend: the 'warp' is a plain resize, the mask all ones."""
        out_h, out_w = photo.shape[:2]

        def up(x: np.ndarray) -> np.ndarray:
            interp = cv2.INTER_AREA if out_w < self.resolution else cv2.INTER_CUBIC
            return cv2.resize(x, (out_w, out_h), interpolation=interp).astype(np.float32)

        region, before = photo.astype(np.float32), up(crop)
        gate = signal_gate(region - before, noise, residual_noise_gain(round(self.resolution / out_w * 20) / 20
                                                                       or 0.05), blocking)
        blended = band_split(region, up(restored), before, np.ones((out_h, out_w), np.float32), alpha, gate)
        return np.clip(np.rint(blended), 0, 255).astype(np.uint8)

    def _upsampler(self, upsampler: Upsampler | str | None) -> Upsampler:
        """A callable for ``background_upsampler``; named ones are loaded once per pipeline."""
        if not isinstance(upsampler, str):
            return upsampler or lanczos_upsample
        if upsampler not in self._upsamplers:
            self._upsamplers[upsampler] = get_upsampler(upsampler, self.device)
        return self._upsamplers[upsampler]

    def restore_frames(self, frames: Iterable[np.ndarray], rate: float = 25.0, **kwargs: Any) -> Iterator[np.ndarray]:
        """Restore a video given as RGB ``uint8`` frames, lazily: a generator of restored frames, in order.

        Faces are tracked and steadied over time (``gpen_hf.video``); keyword arguments go to
        :class:`~gpen_hf.video.restore.VideoRestorer` (``alpha``, ``batch_size``, ``detect_every``, ...).
        ``rate`` is the frame rate. Only a short window of frames is held in memory. For files (audio and
        timing kept) see :func:`gpen_hf.video.restore.restore_video` or ``gpen-hf restore-video``.
        """
        from gpen_hf.video.restore import VideoRestorer

        return VideoRestorer(self, rate, **kwargs)(frames)

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
