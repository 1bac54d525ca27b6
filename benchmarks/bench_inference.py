"""End-to-end inference numbers: whole-photo time, peak RSS on a big photo, PyTorch vs ONNX Runtime table.

    python benchmarks/bench_inference.py photo     # one-face photo, detection → paste-back, fast vs reference
    python benchmarks/bench_inference.py photo --resolution 256 --onnx   # ... and ONNX Runtime
    python benchmarks/bench_inference.py photo --onnx --int8-calibration-dir FACES  # ... and ONNX Runtime int8
    python benchmarks/bench_inference.py rss       # 4000x3000 photo with 10 faces: peak RSS per batch size
    python benchmarks/bench_inference.py table     # resolution x dtype x backend: forward time and peak RSS
    python benchmarks/bench_inference.py lpips     # bf16 vs fp32 outputs on real aligned faces (LPIPS, max-abs)

Models have the official GPEN-BFR shapes; weights are the trained default model when it exists
(gpen_hf/assets/gpen-default), random otherwise (speed and memory do not depend on the weights). Each ``rss``
and ``table`` row runs in its own process so its peak RSS (``ru_maxrss``) is its own. Photos come from
../shared/data/faces/photos.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from gpen_hf import GPENModel, set_implementation
from gpen_hf.runtime import inference_context, tune_cpu_allocator

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "data" / "faces" / "photos"
DEFAULT_MODEL = ROOT / "gpen_hf" / "assets" / "gpen-default"
SHAPES = {128: (1, 0.25), 256: (1, 0.5), 512: (2, 1.0)}


def load_model(resolution: int) -> tuple[GPENModel, str]:
    """The trained default model if it has this resolution, else random weights with the official shapes."""
    if (DEFAULT_MODEL / "config.json").is_file():
        model = GPENModel.from_pretrained(str(DEFAULT_MODEL))
        if model.config.resolution == resolution:
            return model.eval(), "trained default model"
    cm, narrow = SHAPES[resolution]
    torch.manual_seed(0)
    return GPENModel(resolution=resolution, channel_multiplier=cm, narrow=narrow).eval(), "random weights"


def peak_rss_mib() -> float:
    """This process's peak RSS. ``VmHWM`` (reset by exec), not ``ru_maxrss``: Linux carries the latter over
    from the parent across fork+exec, so a child would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def big_photo() -> np.ndarray:
    """A 4000x3000 RGB collage of real photos holding 10 faces (4 + 2 + 1 + 3 single-face crops)."""
    def read(name: str, size: tuple[int, int]) -> np.ndarray:
        bgr = cv2.imread(str(PHOTOS / name))
        return cv2.cvtColor(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)

    canvas = np.full((3000, 4000, 3), 128, np.uint8)
    canvas[:1943, :4000] = read("3ddfa-v2__emma.jpg", (4000, 1943))
    canvas[1960:2960, :2230] = read("3ddfa-v2__trump_hillary.jpg", (2230, 1000))
    canvas[1960:2960, 2240:2990] = read("3ddfa-v2__JianzhuGuo.jpg", (750, 1000))
    for (y, x), name in zip([(1960, 3000), (1960, 3500), (2480, 3000)],
                            ["codeformer__gray_111_Alexa_Chung_00.png", "codeformer__gray_158_Jimmy_Fallon_00.png",
                             "codeformer__gray_161_Zac_Efron_00.png"]):
        canvas[y:y + 480, x:x + 480] = read(name, (480, 480))
    return canvas


def cmd_photo(args: argparse.Namespace) -> None:
    """Whole photo, one face: reference vs fast path (and winograd, bf16, ONNX Runtime fp32/int8), interleaved."""
    from gpen_hf.export import export_onnx
    from gpen_hf.pipeline import GPENPipeline

    model, weights = load_model(args.resolution)
    pipe = GPENPipeline(model)
    path = Path(args.photo) if Path(args.photo).is_file() else PHOTOS / args.photo
    photo = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    modes = {"reference fp32": (pipe, "grouped", None), "fast fp32": (pipe, "folded", None),
             "winograd fp32": (pipe, "winograd", None)}
    if args.bf16:
        modes["fast bf16"] = (pipe, "folded", torch.bfloat16)
    with tempfile.TemporaryDirectory() as tmp:
        if args.onnx:
            onnx_pipe = GPENPipeline.from_onnx(export_onnx(model, Path(tmp) / "gpen.onnx"), threads=args.threads,
                                               detector=pipe.detector)
            modes["onnxruntime fp32"] = (onnx_pipe, "folded", None)
        if args.int8_calibration_dir:
            from gpen_hf.quantization import export_onnx_int8

            int8 = export_onnx_int8(model, Path(tmp) / "int8.onnx", args.int8_calibration_dir, args.calibration_faces)
            modes["onnxruntime int8"] = (GPENPipeline.from_onnx(int8, threads=args.threads, detector=pipe.detector),
                                         "folded", None)
        times: dict[str, list[float]] = {m: [] for m in modes}
        for rep in range(args.repeats + 1):  # first round is warm-up
            for name, (runner, impl, dtype) in modes.items():
                set_implementation(model, impl)
                start = time.perf_counter()
                with inference_context("cpu", dtype):
                    out = runner(photo, output_type="np")
                if rep:
                    times[name].append(time.perf_counter() - start)
    set_implementation(model, "folded")
    print(f"photo {path.name} {photo.shape[1]}x{photo.shape[0]}, {out.num_faces} face(s), GPEN-{args.resolution} "
          f"({weights}), threads {torch.get_num_threads()}; end to end (detect, align, restore, paste-back)")
    ref = min(times["reference fp32"])
    for name, ts in times.items():
        print(f"  {name:<16} best {min(ts):6.2f} s  median {np.median(ts):6.2f} s  reference/this {ref / min(ts):5.2f}")


def child_rss(batch_size: int) -> dict:
    """In-process part of ``rss``: restore the big photo with one batch size, report peak RSS."""
    from gpen_hf.pipeline import GPENPipeline

    model, weights = load_model(512)
    photo = big_photo()
    pipe = GPENPipeline(model)
    before = peak_rss_mib()
    start = time.perf_counter()
    out = pipe(photo, batch_size=batch_size, output_type="np")
    return {"batch_size": batch_size, "faces": out.num_faces, "seconds": time.perf_counter() - start,
            "rss_before_mib": before, "peak_rss_mib": peak_rss_mib(), "weights": weights}


def child_table(resolution: int, backend: str, dtype: str, repeats: int) -> dict:
    """In-process part of ``table``: best forward time (batch 1) and peak RSS of one configuration."""
    model, weights = load_model(resolution)
    x = torch.rand(1, 3, resolution, resolution) * 2 - 1
    if backend == "onnx":
        from gpen_hf.export import export_onnx, onnx_session

        with tempfile.TemporaryDirectory() as tmp:
            path = export_onnx(model, Path(tmp) / "gpen.onnx")
            del model
            session = onnx_session(path, threads=torch.get_num_threads())
            def run() -> None:
                session.run(None, {"sample": x.numpy()})

            run()
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
    else:
        set_implementation(model, "grouped" if backend == "pytorch-reference" else "folded")
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            with inference_context("cpu", None if dtype == "fp32" else dtype):
                model(x)
            times.append(time.perf_counter() - start)
        times = times[1:]
    return {"resolution": resolution, "backend": backend, "dtype": dtype, "best_s": min(times),
            "peak_rss_mib": peak_rss_mib(), "weights": weights}


def cmd_lpips(args: argparse.Namespace) -> None:
    """Reduced-precision autocast vs fp32 on real aligned faces: LPIPS(out, fp32 out), change of LPIPS to input."""
    from gpen_hf.metrics.lpips import LPIPS
    from gpen_hf.runtime import resolve_dtype

    device = torch.device(args.device)
    dtype = resolve_dtype(args.autocast_dtype)
    model, weights = load_model(args.resolution)
    model, lpips = model.to(device), LPIPS().to(device)
    files = sorted(Path(args.faces_dir).glob("*.png"))[: args.faces]
    if not files:
        raise SystemExit(f"no .png faces in {args.faces_dir}")
    deltas, between, max_abs = [], [], []
    for f in files:
        rgb = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)
        rgb = cv2.resize(rgb, (args.resolution, args.resolution), interpolation=cv2.INTER_AREA)
        x = (torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1).to(device)
        outs = {}
        for d in (None, dtype):
            with inference_context(device, d):
                outs[d] = model(x).sample.float().clamp(-1, 1)
        with torch.no_grad():
            to_input = [float(lpips(outs[d], x)) for d in (None, dtype)]
            between.append(float(lpips(outs[dtype], outs[None])))
        deltas.append(abs(to_input[1] - to_input[0]))
        max_abs.append(float((outs[dtype] - outs[None]).abs().max()))
    print(f"GPEN-{args.resolution} ({weights}) on {device}, {len(files)} real aligned faces, "
          f"{args.autocast_dtype} autocast vs fp32:")
    print(f"  |LPIPS(out, input) change|  mean {np.mean(deltas):.4f}  max {np.max(deltas):.4f}")
    print(f"  LPIPS({args.autocast_dtype} out, fp32 out)   mean {np.mean(between):.4f}  max {np.max(between):.4f}")
    print(f"  max-abs output difference   max {np.max(max_abs):.4f} (outputs in [-1, 1])")


def run_child(argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cmd_rss(args: argparse.Namespace) -> None:
    for bs in args.batch_sizes:
        r = run_child(["_child_rss", str(bs), "--threads", str(args.threads)])
        print(f"4000x3000 photo, {r['faces']} faces, GPEN-512 ({r['weights']}), batch_size {bs}: "
              f"{r['seconds']:.1f} s, peak RSS {r['peak_rss_mib']:.0f} MiB "
              f"(model loaded: {r['rss_before_mib']:.0f} MiB)")


CONFIGS = [("pytorch-reference", "fp32"), ("pytorch", "fp32"), ("pytorch", "bf16"), ("onnx", "fp32")]


def interleaved_times(resolution: int, configs: list[tuple[str, str]], repeats: int) -> dict[tuple[str, str], float]:
    """Best forward time (batch 1) of every configuration, run round-robin in this process."""
    from gpen_hf.export import export_onnx, onnx_session

    model, _ = load_model(resolution)
    x = torch.rand(1, 3, resolution, resolution) * 2 - 1
    with tempfile.TemporaryDirectory() as tmp:
        session = onnx_session(export_onnx(model, Path(tmp) / "gpen.onnx"), threads=torch.get_num_threads())

    def call(backend: str, dtype: str) -> None:
        if backend == "onnx":
            session.run(None, {"sample": x.numpy()})
            return
        set_implementation(model, "grouped" if backend == "pytorch-reference" else "folded")
        with inference_context("cpu", None if dtype == "fp32" else dtype):
            model(x)

    best = {c: float("inf") for c in configs}
    for rep in range(repeats + 1):  # round 0 is warm-up
        for c in configs:
            start = time.perf_counter()
            call(*c)
            if rep:
                best[c] = min(best[c], time.perf_counter() - start)
    return best


def cmd_table(args: argparse.Namespace) -> None:
    """Times from one interleaved in-process run per resolution; peak RSS from one child process per row."""
    configs = [c for c in CONFIGS if not (args.no_bf16 and c[1] == "bf16")]
    print("| resolution | backend | dtype | forward batch 1 (s) | vs reference | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|")
    for res in args.resolutions:
        times = interleaved_times(res, configs, args.repeats)
        for backend, dtype in configs:
            r = run_child(["_child_table", str(res), backend, dtype, "--threads", str(args.threads), "--repeats", "1"])
            ratio = times[("pytorch-reference", "fp32")] / times[(backend, dtype)]
            print(f"| {res} | {backend} | {dtype} | {times[(backend, dtype)]:.2f} | {ratio:.2f}x | "
                  f"{r['peak_rss_mib']:.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("photo")
    p.add_argument("--photo", default="3ddfa-v2__JianzhuGuo.jpg", help="a file, or a name in ../shared's photos")
    p.add_argument("--resolution", type=int, default=512, choices=[128, 256, 512])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--onnx", action="store_true", help="also time the exported graph run by onnxruntime")
    p.add_argument("--int8-calibration-dir", default=None,
                   help="also time the int8 graph (export-onnx --int8) calibrated on these aligned faces")
    p.add_argument("--calibration-faces", type=int, default=16)
    p = sub.add_parser("rss")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 10])
    p = sub.add_parser("table")
    p.add_argument("--resolutions", type=int, nargs="+", default=[256, 512])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--no-bf16", action="store_true")
    p = sub.add_parser("lpips")
    p.add_argument("--resolution", type=int, default=512)
    p.add_argument("--faces", type=int, default=4)
    p.add_argument("--faces-dir", default=str(PHOTOS.parent / "aligned512"), help="folder of aligned .png faces")
    p.add_argument("--device", default="cpu")
    p.add_argument("--autocast-dtype", default="bf16", choices=["bf16", "fp16"])
    p = sub.add_parser("_child_rss")
    p.add_argument("batch_size", type=int)
    p = sub.add_parser("_child_table")
    p.add_argument("resolution", type=int)
    p.add_argument("backend")
    p.add_argument("dtype")
    p.add_argument("--repeats", type=int, default=2)
    for p in sub.choices.values():
        p.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tune_cpu_allocator()
    if args.cmd == "_child_rss":
        print(json.dumps(child_rss(args.batch_size)))
    elif args.cmd == "_child_table":
        print(json.dumps(child_table(args.resolution, args.backend, args.autocast_dtype, args.repeats)))
    else:
        {"photo": cmd_photo, "rss": cmd_rss, "table": cmd_table, "lpips": cmd_lpips}[args.cmd](args)


if __name__ == "__main__":
    main()
