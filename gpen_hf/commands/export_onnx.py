"""``gpen-hf export-onnx MODEL_DIR out.onnx [--dynamic-batch] [--int8 --calibration-dir FACES]``: GPENModel → ONNX."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export-onnx",
        help="export a GPEN model to ONNX",
        description="Export a GPENModel (from_pretrained folder, hub id or official GPEN-BFR-*.pth) to an ONNX file "
        "with input 'sample' (N, 3, R, R) in [-1, 1] and output 'restored'. Runs with onnxruntime, TensorRT, "
        "OpenVINO. --check compares onnxruntime with PyTorch.",
    )
    parser.add_argument("model", help="from_pretrained folder (or hub id) or official .pth release file")
    parser.add_argument("output", help="the .onnx file to write")
    parser.add_argument("--dynamic-batch", action="store_true", help="symbolic batch axis (default: batch 1)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset, >= 17 (default 17)")
    parser.add_argument("--check", action="store_true", help="run onnxruntime and report max-abs vs PyTorch")
    parser.add_argument("--int8", action="store_true",
                        help="ONNX Runtime static int8 quantization of the convolutions (symbolic batch axis); "
                        "needs --calibration-dir")
    parser.add_argument("--calibration-dir", "--calibration_dir", dest="calibration_dir", default=None,
                        help="--int8: folder of aligned faces (training faces, not evaluation ones) whose "
                        "activation ranges calibrate the quantization")
    parser.add_argument("--calibration-faces", type=int, default=64,
                        help="--int8: calibrate on at most this many faces of --calibration-dir (default 64)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..export import export_onnx, load_model

    if args.int8 and args.calibration_dir is None:
        print("gpen-hf export-onnx: error: --int8 needs --calibration-dir FOLDER, a folder of aligned face images "
              "(e.g. training faces) to calibrate the int8 activation ranges on", file=sys.stderr)
        return 2
    try:
        model = load_model(args.model).float().eval()
        if args.int8:
            from ..quantization import export_onnx_int8

            path = export_onnx_int8(model, args.output, args.calibration_dir, args.calibration_faces)
        else:
            path = export_onnx(model, args.output, dynamic_batch=args.dynamic_batch, opset=args.opset)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"gpen-hf export-onnx: error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    return _check(model, path, args) if args.check else 0


def _check(model, path, args: argparse.Namespace) -> int:
    """fp32: onnxruntime must match PyTorch within 1e-3 on a random input. int8: report the differences on the
    first calibration face (quantization error is expected; LPIPS numbers are in benchmarks/RESULTS.md)."""
    import torch

    from ..export import onnx_session

    size = model.config.resolution
    if args.int8:
        from ..quantization import calibration_images, face_tensor

        x = torch.from_numpy(face_tensor(calibration_images(args.calibration_dir)[0], size))
    else:
        x = torch.rand(2 if args.dynamic_batch else 1, 3, size, size, generator=torch.Generator().manual_seed(0))
        x = x * 2 - 1
    with torch.inference_mode():
        expected = model(x).sample.numpy()
    diff = abs(onnx_session(path).run(None, {"sample": x.numpy()})[0] - expected)
    print(f"onnxruntime vs PyTorch max-abs: {diff.max():.2e}  mean-abs: {diff.mean():.2e}")
    if not args.int8 and diff.max() > 1e-3:
        print("gpen-hf export-onnx: error: onnxruntime output differs by more than 1e-3", file=sys.stderr)
        return 1
    return 0
