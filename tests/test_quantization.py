"""Int8 ONNX export: every convolution quantized per channel, calibrated on real faces; close to fp32; CLI errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gpen_hf import GPENModel
from gpen_hf.cli import main
from gpen_hf.export import OnnxRuntimeGPEN
from gpen_hf.quantization import calibration_images, export_onnx_int8, face_tensor

FACES = Path(__file__).parent / "fixtures" / "faces"


@pytest.fixture(scope="module")
def model(tiny_gpen_with_skips: GPENModel) -> GPENModel:
    return tiny_gpen_with_skips


@pytest.fixture(scope="module")
def int8_path(model: GPENModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx_int8(model, tmp_path_factory.mktemp("int8") / "gpen-int8.onnx", FACES)


def test_every_convolution_is_a_qlinearconv_with_7_bit_per_channel_weights(int8_path: Path) -> None:
    import onnx

    graph = onnx.load(str(int8_path)).graph
    inits = {i.name: i for i in graph.initializer}
    ops = [n.op_type for n in graph.node]
    assert "Conv" not in ops and ops.count("QLinearConv") >= 10
    for conv in (n for n in graph.node if n.op_type == "QLinearConv"):
        weight, scale = inits[conv.input[3]], inits[conv.input[4]]
        assert weight.data_type == onnx.TensorProto.INT8
        assert np.abs(onnx.numpy_helper.to_array(weight).astype(int)).max() <= 64  # reduce_range: 7 bits
        assert list(scale.dims) == [weight.dims[0]]  # one scale per output channel


def test_qdq_format_quantizes_every_convolution_weight(model: GPENModel, tmp_path: Path) -> None:
    import onnx

    path = export_onnx_int8(model, tmp_path / "qdq.onnx", FACES, max_faces=2, quant_format="qdq",
                            weight_type="uint8")
    graph = onnx.load(str(path)).graph
    producer = {out: node for node in graph.node for out in node.output}
    inits = {i.name: i for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type in ("Conv", "ConvTranspose")]
    assert convs
    for conv in convs:
        dq = producer[conv.input[1]]
        assert dq.op_type == "DequantizeLinear" and inits[dq.input[0]].data_type == onnx.TensorProto.UINT8
        assert producer[conv.input[0]].op_type == "DequantizeLinear"  # the activation is quantized too


def test_int8_output_is_close_to_pytorch(model: GPENModel, int8_path: Path) -> None:
    runner = OnnxRuntimeGPEN(int8_path, threads=1)
    assert runner.fixed_batch is None and runner.resolution == 32
    assert runner.face_template == model.config.face_template
    x = torch.from_numpy(np.concatenate([face_tensor(f, 32) for f in calibration_images(FACES)]))
    got = runner(x)
    with torch.inference_mode():
        expected = model(x).sample
    assert got.shape == expected.shape == (3, 3, 32, 32)
    err = (got - expected).abs()
    spread = float(expected.std())
    assert 0 < float(err.max()) and float(err.mean()) < 0.05 * spread  # quantized, but a few % of the signal


def test_bad_calibration_folders_are_named(model: GPENModel, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="calibration folder not found: .*nowhere"):
        export_onnx_int8(model, tmp_path / "x.onnx", tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no faces")
    with pytest.raises(FileNotFoundError, match="no images .* calibration folder .*empty"):
        export_onnx_int8(model, tmp_path / "x.onnx", tmp_path / "empty")
    with pytest.raises(ValueError, match="quant_format"):
        export_onnx_int8(model, tmp_path / "x.onnx", FACES, quant_format="fp8")


def test_cli_int8(model: GPENModel, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model.save_pretrained(tmp_path / "model")
    out = tmp_path / "gpen-int8.onnx"
    assert main(["export-onnx", str(tmp_path / "model"), str(out), "--int8"]) == 2
    assert "--int8 needs --calibration-dir" in capsys.readouterr().err
    assert main(["export-onnx", str(tmp_path / "model"), str(out), "--int8", "--calibration-dir",
                 str(tmp_path / "nowhere")]) == 1
    assert "nowhere" in capsys.readouterr().err and not out.exists()
    assert main(["export-onnx", str(tmp_path / "model"), str(out), "--int8", "--calibration_dir", str(FACES),
                 "--calibration-faces", "2", "--check"]) == 0
    assert out.is_file() and "mean-abs" in capsys.readouterr().out
