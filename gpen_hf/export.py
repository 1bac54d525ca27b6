"""ONNX export of :class:`~gpen_hf.models.GPENModel` (the restorer: (N, 3, R, R) in [-1, 1] → same shape).

Uses the TorchScript-based exporter (``dynamo=False``): it needs no extra package (the dynamo exporter wants
``onnxscript``) and handles every op of the fast path. The graph is the ``"folded"`` implementation: channels_last-friendly
depthwise FIR filters and, for a fixed batch of 1, the style folded into each convolution weight; with
``dynamic_batch`` it is traced at batch 2, where the modulated convolutions modulate activations with a shared
weight, so one graph serves any batch.
The model's encoder features and styles are computed inside the graph, so the file is self-contained.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .models import GPENModel, set_implementation

DEFAULT_OPSET = 17


class _ImageOnly(nn.Module):
    """Wrap the model so the graph has one input (``sample``) and one output (``restored``)."""

    def __init__(self, model: GPENModel):
        super().__init__()
        self.model = model

    def forward(self, sample: torch.Tensor) -> torch.Tensor:
        return self.model(sample, return_dict=False)[0]


def load_model(source: str | Path | GPENModel) -> GPENModel:
    """A model instance, or any source ``GPENModel.from_pretrained`` takes (folder, Hub id, registry name such as
    ``gpen-bfr-512``, official ``.pth`` release file)."""
    if isinstance(source, GPENModel):
        return source
    return GPENModel.from_pretrained(str(source))


def export_onnx(
    source: str | Path | GPENModel,
    output: str | Path,
    dynamic_batch: bool = False,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Write ``source`` as an ONNX file at ``output`` and return its path.

    Args:
        source: see :func:`load_model`.
        output: the ``.onnx`` file to write (parent folders are created).
        dynamic_batch: make the batch axis symbolic (``batch``); otherwise the graph takes exactly one face.
        opset: ONNX opset (>= 17).
    """
    if opset < 17:
        raise ValueError(f"opset must be >= 17, got {opset}")
    model = load_model(source).float().eval()
    set_implementation(model, "folded")
    resolution = model.config.resolution
    dummy = torch.rand(2 if dynamic_batch else 1, 3, resolution, resolution) * 2 - 1
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # static channel counts read as ints
        warnings.filterwarnings("ignore", message="Constant folding")  # strided RGB slices: harmless
        torch.onnx.export(
            _ImageOnly(model),
            (dummy,),
            str(output),
            input_names=["sample"],
            output_names=["restored"],
            opset_version=opset,
            dynamo=False,
            dynamic_axes={"sample": {0: "batch"}, "restored": {0: "batch"}} if dynamic_batch else None,
        )
    _add_metadata(output, {"face_template": model.config.face_template})
    return output


def _add_metadata(path: Path, values: dict[str, str]) -> None:
    """Store ``values`` as the graph's metadata_props (the pipeline reads ``face_template`` back)."""
    import onnx

    graph = onnx.load(str(path))
    onnx.helper.set_model_props(graph, values)
    onnx.save(graph, str(path))


def onnx_session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU ``InferenceSession`` for ``path`` (``threads`` intra-op threads, default: ORT's)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxRuntimeGPEN(nn.Module):
    """An exported GPEN run by onnxruntime, usable wherever the pipeline takes a model (CPU, fp32).

    A graph exported with ``dynamic_batch`` takes the whole batch at once; a batch-1 graph is called once per face.
    ``resolution`` is read from the graph's input. On this project's idle 2-core CPU it runs at 0.9x PyTorch's
    fast path (``benchmarks/RESULTS.md``): use it to deploy where onnxruntime is the runtime of choice.
    """

    def __init__(self, path: str | Path, threads: int | None = None):
        super().__init__()
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {self.path}")
        self.session = onnx_session(self.path, threads)
        (graph_input,) = self.session.get_inputs()
        batch, channels, height, width = graph_input.shape
        if channels != 3 or height != width or not isinstance(height, int):
            raise ValueError(f"{self.path}: expected a GPEN graph with input (N, 3, R, R), got {graph_input.shape}")
        self.input_name, self.resolution = graph_input.name, height
        self.fixed_batch = batch if isinstance(batch, int) else None
        #: the alignment the exported model expects (graph metadata; graphs from before it was stored: ffhq)
        self.face_template = self.session.get_modelmeta().custom_metadata_map.get("face_template", "ffhq")

    def forward(self, sample: torch.Tensor) -> torch.Tensor:
        x = sample.detach().float().cpu().numpy()
        step = self.fixed_batch or len(x)
        parts = [self.session.run(None, {self.input_name: x[i:i + step]})[0] for i in range(0, len(x), step)]
        return torch.from_numpy(np.concatenate(parts)).to(sample.device)
