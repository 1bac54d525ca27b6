"""Int8 ONNX export: ONNX Runtime static quantization of the exported GPEN graph, calibrated on aligned faces.

The fp32 graph is exported in the *activations* form of the modulated convolutions (traced at batch 2, symbolic
batch axis: ``conv(x * s, W) * d``), so every convolution has a constant weight that can be quantized per output
channel. The batch-1 graph :func:`~gpen_hf.export.export_onnx` writes by default folds the style into the weight
at run time; there the weights of all modulated convolutions are computed in the graph and ONNX Runtime could
only quantize them per tensor, with ranges calibrated on a few images, which is both slower and less exact.

Only convolutions are quantized: by default (QOperator format) every ``Conv`` becomes a ``QLinearConv`` with
7-bit per-channel weights and uint8 activations; ``ConvTranspose`` (the upsampling modulated convolutions) has no
QOperator kernel and stays fp32, as do the style MLP, modulation, demodulation, noise injection and activations.
The QDQ format (QuantizeLinear/DequantizeLinear pairs that ONNX Runtime fuses at load time) is the alternative. Activation ranges come from ``onnxruntime.quantization``'s MinMax calibration over the
faces of ``calibration_dir`` (aligned faces, as the pipeline crops them; use training faces, not the faces you
evaluate on). Speed and LPIPS against fp32 on this project's CPU: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from .export import _add_metadata, export_onnx, load_model
from .faces.align import resize_face
from .image_io import list_images, load_image
from .models import GPENModel

#: the ops that are quantized; everything else runs in fp32
QUANTIZED_OPS = ("Conv", "ConvTranspose")
_FORMATS = {"qdq": QuantFormat.QDQ, "qoperator": QuantFormat.QOperator}
#: weight type → (ONNX Runtime type, reduce_range): "int7" is int8 storage with 7-bit weights
_TYPES = {"int7": (QuantType.QInt8, True), "int8": (QuantType.QInt8, False), "uint8": (QuantType.QUInt8, False)}


def calibration_images(folder: str | Path, max_faces: int | None = None) -> list[Path]:
    """The image files of ``folder`` (sorted, at most ``max_faces``); a clear error when there are none."""
    return list_images(folder, what="calibration folder")[:max_faces]


def face_tensor(path: str | Path, resolution: int) -> np.ndarray:
    """An aligned face file as the graph's input: (1, 3, R, R) float32 in [-1, 1], resized as the pipeline does."""
    rgb = resize_face(load_image(path).rgb, resolution)
    return (rgb.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None].copy()


class FaceCalibrationReader(CalibrationDataReader):
    """Feeds aligned faces, one per call, to ONNX Runtime's calibrator (input name ``sample``)."""

    def __init__(self, files: list[Path], resolution: int):
        self.files, self.resolution = files, resolution
        self._next = iter(files)

    def get_next(self) -> dict[str, np.ndarray] | None:
        path = next(self._next, None)
        return None if path is None else {"sample": face_tensor(path, self.resolution)}

    def rewind(self) -> None:
        self._next = iter(self.files)


def export_onnx_int8(
    source: str | Path | GPENModel,
    output: str | Path,
    calibration_dir: str | Path,
    max_faces: int | None = 64,
    quant_format: str = "qoperator",
    weight_type: str = "int7",
) -> Path:
    """Export ``source`` (see :func:`~gpen_hf.export.load_model`) as an int8 ONNX graph at ``output``.

    Args:
        calibration_dir: folder of aligned face images (any size; resized to the model's resolution).
        max_faces: calibrate on at most this many of them (sorted by name; None: all).
        quant_format: ``"qdq"`` (Quantize/DequantizeLinear pairs, fused at load time) or ``"qoperator"``
            (QLinearConv nodes; per-channel weights are then int8 whatever ``weight_type`` says).
        weight_type: ``"uint8"``, ``"int8"`` or ``"int7"`` (int8 with 7-bit values) weights; activations are
            uint8. On AVX2 without VNNI, uint8 x int8 products run on ``vpmaddubsw``, whose 16-bit pair sums
            saturate with full-range int8 weights (visible LPIPS loss); 7-bit weights cannot saturate and keep
            that instruction's speed; uint8 weights run a slower u8 x u8 kernel. Measured in
            ``benchmarks/bench_onnx.py``: QOperator with int7 weights was the fastest and among the most
            accurate variants (GPEN-512 1.78x the fp32 graph; LPIPS 0.001 against fp32 with the shipped model).

    The graph has a symbolic batch axis and the same input/output names and metadata as the fp32 export, so
    ``OnnxRuntimeGPEN``, ``GPENPipeline.from_onnx`` and ``gpen-hf restore --onnx`` run it unchanged.
    """
    if quant_format not in _FORMATS or weight_type not in _TYPES:
        raise ValueError(f"quant_format must be one of {tuple(_FORMATS)} and weight_type one of {tuple(_TYPES)}, "
                         f"got {quant_format!r}, {weight_type!r}")
    model = load_model(source)
    resolution = model.config.resolution
    files = calibration_images(calibration_dir, max_faces)  # fail before the slow export
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, Path(tmp) / "fp32.onnx", dynamic_batch=True)
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared))  # shape inference + constant folding: FIR kernels become constants
        quantize_static(
            str(prepared),
            str(output),
            FaceCalibrationReader(files, resolution),
            quant_format=_FORMATS[quant_format],
            op_types_to_quantize=list(QUANTIZED_OPS),
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=_TYPES[weight_type][0],
            reduce_range=_TYPES[weight_type][1],
        )
    _add_metadata(output, {"face_template": model.config.face_template, "quantization": "int8"})
    return output
