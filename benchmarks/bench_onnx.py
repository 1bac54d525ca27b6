"""ONNX Runtime fp32 vs int8 (``gpen-hf export-onnx --int8``): speed, and LPIPS of int8 against fp32 on real faces.

For each model: the fp32 batch-1 graph (``export-onnx``'s default: style folded into the weights at run time),
the fp32 activations-form graph the int8 export starts from (``--dynamic-batch``, run at batch 1), and the int8
variants asked for (QDQ / QOperator format x int7 / int8 / uint8 weights; activations uint8), all run by one
onnxruntime CPU session each with the same options (``--threads`` intra-op threads), interleaved, best of
``--repeats`` after a warm-up. Calibration uses ``--calibration-dir`` (training faces); LPIPS uses
``--eval-dir`` (faces never used for calibration) and is reported for the trained default model only (random
weights give random images). GPEN-512 has random weights with the official shapes: its speed is what counts.

    python benchmarks/bench_onnx.py --calibration-dir /work/data/train512 --eval-dir /work/data/eval512
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gpen_hf import GPENModel
from gpen_hf.export import export_onnx, onnx_session
from gpen_hf.quantization import calibration_images, export_onnx_int8, face_tensor

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "gpen_hf" / "assets" / "gpen-default"
SHAPES = {256: (1, 0.5), 512: (2, 1.0)}
VARIANTS = {f"{fmt}-{wt}": (fmt, wt) for fmt in ("qdq", "qoperator") for wt in ("int7", "int8", "uint8")
            if (fmt, wt) != ("qoperator", "uint8")}  # QLinearConv's per-channel weights are always int8


def model_for(name: str) -> tuple[str, GPENModel]:
    """``default`` (the shipped trained model) or a resolution with random official-shape weights."""
    if name == "default":
        return "shipped default (trained)", GPENModel.from_pretrained(str(DEFAULT_MODEL)).eval()
    torch.manual_seed(0)
    cm, narrow = SHAPES[int(name)]
    return "random weights", GPENModel(resolution=int(name), channel_multiplier=cm, narrow=narrow).eval()


def lpips_rows(sessions: dict, files: list[Path], resolution: int) -> dict[str, tuple[float, float, float, float]]:
    """name → (mean, max LPIPS(out, fp32 out), mean |LPIPS(out, input) - LPIPS(fp32 out, input)|, max-abs)."""
    from gpen_hf.metrics.lpips import LPIPS

    lpips = LPIPS()
    stats: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sessions}
    for f in files:
        x = face_tensor(f, resolution)
        outs = {n: torch.from_numpy(s.run(None, {"sample": x})[0]).clamp(-1, 1) for n, s in sessions.items()}
        ref, inp = outs["fp32 batch-1"], torch.from_numpy(x)
        with torch.no_grad():
            ref_to_input = float(lpips(ref, inp))
            for name, out in outs.items():
                stats[name].append((float(lpips(out, ref)), abs(float(lpips(out, inp)) - ref_to_input),
                                    float((out - ref).abs().max())))
    return {n: (np.mean([s[0] for s in v]), np.max([s[0] for s in v]), np.mean([s[1] for s in v]),
                np.max([s[2] for s in v])) for n, v in stats.items()}


def bench(name: str, args: argparse.Namespace) -> None:
    weights, model = model_for(name)
    r = model.config.resolution
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"fp32 batch-1": export_onnx(model, Path(tmp) / "b1.onnx"),
                 "fp32 activations": export_onnx(model, Path(tmp) / "act.onnx", dynamic_batch=True)}
        for v in args.variants:
            start = time.perf_counter()
            paths[f"int8 {v}"] = export_onnx_int8(model, Path(tmp) / f"{v}.onnx", args.calibration_dir,
                                                  args.calibration_faces, *VARIANTS[v])
            print(f"GPEN-{r}: int8 {v} exported and calibrated in {time.perf_counter() - start:.0f} s", flush=True)
        sizes = {n: p.stat().st_size / 2**20 for n, p in paths.items()}
        sessions = {n: onnx_session(p, threads=args.threads) for n, p in paths.items()}
    eval_files = calibration_images(args.eval_dir) if args.eval_dir and name == "default" else []
    x = face_tensor(eval_files[0], r) if eval_files else np.random.default_rng(0).uniform(-1, 1, (1, 3, r, r))
    x = x.astype(np.float32)
    times: dict[str, list[float]] = {n: [] for n in sessions}
    for rep in range(args.repeats + 1):  # round 0 is warm-up
        for n, s in sessions.items():
            start = time.perf_counter()
            s.run(None, {"sample": x})
            if rep:
                times[n].append(time.perf_counter() - start)
    quality = lpips_rows(sessions, eval_files, r) if eval_files else {}
    base = min(times["fp32 batch-1"])
    print(f"\nGPEN-{r} ({weights}), onnxruntime CPU, {args.threads} threads, best of {args.repeats}"
          + (f"; LPIPS on {len(eval_files)} eval faces" if quality else ""))
    print("| graph | forward, batch 1 | vs fp32 batch-1 | file | LPIPS vs fp32 mean / max | "
          "abs LPIPS-to-input change mean | max-abs vs fp32 |")
    print("|---|---|---|---|---|---|---|")
    for n, ts in times.items():
        q = quality.get(n)
        qs = f"{q[0]:.4f} / {q[1]:.4f} | {q[2]:.4f} | {q[3]:.3f}" if q else "— | — | —"
        print(f"| {n} | {min(ts):.3f} s | {base / min(ts):.2f}x | {sizes[n]:.0f} MiB | {qs} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["default", "512"], help='"default", 256 or 512')
    parser.add_argument("--calibration-dir", required=True, help="aligned training faces (never the eval faces)")
    parser.add_argument("--calibration-faces", type=int, default=64)
    parser.add_argument("--eval-dir", default=None, help="aligned eval faces for LPIPS (trained model only)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.models:
        bench(name, args)


if __name__ == "__main__":
    main()
