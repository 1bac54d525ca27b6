"""ONNX export: onnxruntime must reproduce PyTorch (within 1e-3), for batch 1 and a symbolic batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gpen_hf import GPENModel
from gpen_hf.cli import main
from gpen_hf.export import export_onnx, onnx_session

pytest.importorskip("onnxruntime")

@pytest.fixture(scope="module")
def model(tiny_gpen_with_skips: GPENModel) -> GPENModel:
    return tiny_gpen_with_skips


def _pytorch(model: GPENModel, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(x)).sample.numpy()


@pytest.mark.parametrize("dynamic_batch", [False, True])
def test_onnxruntime_matches_pytorch(model: GPENModel, tmp_path: Path, dynamic_batch: bool) -> None:
    path = export_onnx(model, tmp_path / "gpen.onnx", dynamic_batch=dynamic_batch)
    session = onnx_session(path, threads=1)
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, out.name) == ("sample", "restored")
    assert isinstance(inp.shape[0], str) == dynamic_batch
    rng = np.random.default_rng(0)
    for batch in (1, 3) if dynamic_batch else (1,):
        x = rng.uniform(-1, 1, (batch, 3, 32, 32)).astype(np.float32)
        got = session.run(None, {"sample": x})[0]
        expected = _pytorch(model, x)
        assert got.shape == expected.shape == (batch, 3, 32, 32)
        assert np.abs(got - expected).max() < 1e-3
    assert left_folded(model)


def left_folded(model: GPENModel) -> bool:
    """Export leaves the model in the default (folded) implementation."""
    from gpen_hf.models.modulated import ModulatedConv2d

    return all(m.impl == "folded" for m in model.modules() if isinstance(m, ModulatedConv2d))


def test_cli_export_onnx(model: GPENModel, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model.save_pretrained(tmp_path / "model")
    out = tmp_path / "out" / "gpen.onnx"
    assert main(["export-onnx", str(tmp_path / "model"), str(out), "--dynamic-batch", "--check"]) == 0
    assert out.is_file()
    assert "max-abs" in capsys.readouterr().out
    assert main(["export-onnx", str(tmp_path / "missing"), str(tmp_path / "x.onnx")]) == 1


def test_rejects_old_opset(model: GPENModel, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="opset"):
        export_onnx(model, tmp_path / "x.onnx", opset=13)


@pytest.mark.parametrize("dynamic_batch", [False, True])
def test_pipeline_from_onnx_matches_the_pytorch_pipeline(model: GPENModel, tmp_path: Path,
                                                         dynamic_batch: bool) -> None:
    from gpen_hf.pipeline import GPENPipeline

    path = export_onnx(model, tmp_path / "gpen.onnx", dynamic_batch=dynamic_batch)
    onnx_pipe = GPENPipeline.from_onnx(path, threads=1)
    assert onnx_pipe.resolution == 32 and onnx_pipe.model.fixed_batch == (None if dynamic_batch else 1)
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(3)]
    got = onnx_pipe.restore_faces(crops, batch_size=3)
    expected = GPENPipeline(model).restore_faces(crops, batch_size=3)
    assert max(int(np.abs(g.astype(int) - e.astype(int)).max()) for g, e in zip(got, expected)) <= 1


def test_cli_restore_with_onnx(model: GPENModel, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from PIL import Image

    path = export_onnx(model, tmp_path / "gpen.onnx")
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(tmp_path / "face.png")
    assert main(["restore", str(tmp_path / "face.png"), "-o", str(tmp_path / "out"), "--aligned",
                 "--onnx", str(path)]) == 0
    assert Image.open(tmp_path / "out" / "face.png").size == (32, 32)
    assert main(["restore", str(tmp_path / "face.png"), "-o", str(tmp_path / "o2"), "--onnx",
                 str(tmp_path / "missing.onnx")]) == 2
    assert "missing.onnx" in capsys.readouterr().err
    assert main(["restore", str(tmp_path / "face.png"), "-o", str(tmp_path / "o3"), "--onnx", str(path),
                 "--torch-dtype", "bfloat16"]) == 2
    assert "--onnx runs an exported graph" in capsys.readouterr().err


def test_onnx_graph_that_is_not_a_gpen_is_refused(tmp_path: Path) -> None:
    from gpen_hf.export import OnnxRuntimeGPEN

    path = tmp_path / "gray.onnx"
    torch.onnx.export(torch.nn.Conv2d(1, 1, 3, padding=1), (torch.zeros(1, 1, 8, 8),), str(path), dynamo=False)
    with pytest.raises(ValueError, match=r"gray\.onnx: expected a GPEN graph with input \(N, 3, R, R\)"):
        OnnxRuntimeGPEN(path)


def test_the_face_template_travels_in_the_graph(tmp_path: Path, tiny_config: dict) -> None:
    from gpen_hf.faces.align import GPEN_TEMPLATE_512
    from gpen_hf.pipeline import GPENPipeline

    torch.manual_seed(0)
    torch.save(GPENModel(**tiny_config).state_dict(), tmp_path / "authors.pth")  # the release layout
    path = export_onnx(str(tmp_path / "authors.pth"), tmp_path / "authors.onnx")  # .pth through the resolver
    np.testing.assert_allclose(GPENPipeline.from_onnx(path).aligner.template, GPEN_TEMPLATE_512 * tiny_config["resolution"] / 512)
