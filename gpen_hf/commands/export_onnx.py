"""``gpen-hf export-onnx MODEL_DIR out.onnx [--dynamic-batch]``: GPENModel → ONNX (opset >= 17)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export-onnx",
        help="export a GPEN model to ONNX",
        description="Export a GPENModel (from_pretrained folder, hub id or official GPEN-BFR-*.pth) to an ONNX file "
        "with input 'sample' (N, 3, R, R) in [-1, 1] and output 'restored'. Runs with onnxruntime, TensorRT, "
        "OpenVINO. --check compares onnxruntime with PyTorch on a random input.",
    )
    parser.add_argument("model", help="from_pretrained folder (or hub id) or official .pth release file")
    parser.add_argument("output", help="the .onnx file to write")
    parser.add_argument("--dynamic-batch", action="store_true", help="symbolic batch axis (default: batch 1)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset, >= 17 (default 17)")
    parser.add_argument("--check", action="store_true", help="run onnxruntime and report max-abs vs PyTorch")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..export import export_onnx, load_model, onnx_session

    try:
        model = load_model(args.model).float().eval()
        path = export_onnx(model, args.output, dynamic_batch=args.dynamic_batch, opset=args.opset)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"gpen-hf export-onnx: error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    if args.check:
        size = model.config.resolution
        x = torch.rand(2 if args.dynamic_batch else 1, 3, size, size, generator=torch.Generator().manual_seed(0))
        x = x * 2 - 1
        with torch.inference_mode():
            expected = model(x).sample.numpy()
        got = onnx_session(path).run(None, {"sample": x.numpy()})[0]
        err = float(abs(got - expected).max())
        print(f"onnxruntime vs PyTorch max-abs: {err:.2e}")
        if err > 1e-3:
            print("gpen-hf export-onnx: error: onnxruntime output differs by more than 1e-3", file=sys.stderr)
            return 1
    return 0
