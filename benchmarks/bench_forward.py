"""GPEN forward-pass speed: reference (authors' CPU form) vs fast path, fp32 and bf16, side by side.

"authors fp32" is the reference path with glibc's default allocator (as the authors' script runs); every
other candidate runs with :func:`gpen_hf.runtime.tune_cpu_allocator`. Candidates run interleaved in one process (round-robin, ``--repeats`` rounds) so that machine load hits them
alike; the table reports the best and median time of each and ratios against the fp32 reference, plus the
max-abs difference of every candidate's output against the reference output. Random weights with the official
shapes (GPEN-BFR-512: channel_multiplier 2, narrow 1; GPEN-BFR-256: 1, 0.5); ``default`` in ``--resolutions``
is the shipped trained model (gpen_hf/assets/gpen-default, 128 px).

    python benchmarks/bench_forward.py --resolutions 512 256 default --threads 2 --repeats 3 --bf16
    python benchmarks/bench_forward.py --device cuda --resolutions 512 1024 --batch 1 8 --bf16 --fp16
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from gpen_hf import GPENModel, set_implementation
from gpen_hf.runtime import tune_cpu_allocator

OFFICIAL_SHAPES = {256: (1, 0.5), 512: (2, 1.0), 1024: (2, 1.0)}
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "gpen_hf" / "assets" / "gpen-default"


def build_model(resolution: int | str, seed: int = 0) -> GPENModel:
    """A GPEN model with the official widths for ``resolution`` and random (seeded) weights; ``"default"``: the
    shipped trained model."""
    if resolution == "default":
        return GPENModel.from_pretrained(str(DEFAULT_MODEL)).eval()
    cm, narrow = OFFICIAL_SHAPES.get(int(resolution), (1, 0.5))
    torch.manual_seed(seed)
    return GPENModel(resolution=int(resolution), channel_multiplier=cm, narrow=narrow).eval()


def make_candidates(
    model: GPENModel, bf16: bool, compile_: bool, authors: bool, fp16: bool = False, compile_mode: str | None = None
) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """name → function(x) returning the restored image; each sets the model's mode it needs."""
    device_type = next(model.parameters()).device.type

    def run(reference: bool, dtype: torch.dtype | None = None, fn: Callable | None = None, malloc: bool = True,
            impl: str = "folded"):
        def call(x: torch.Tensor) -> torch.Tensor:
            tune_cpu_allocator(malloc)
            set_implementation(model, "grouped" if reference else impl)
            with torch.inference_mode(), torch.autocast(device_type, dtype=dtype or torch.bfloat16,
                                                        enabled=dtype is not None):
                return (fn if fn is not None else model)(x, return_dict=False)[0].float().clone()

        return call

    candidates = {"reference fp32": run(True), "fast fp32": run(False), "winograd fp32": run(False, impl="winograd")}
    if authors:  # the reference code as the authors' script runs it: glibc's default malloc behaviour
        candidates = {"authors fp32": run(True, malloc=False), **candidates}
    if bf16:
        candidates["fast bf16"] = run(False, torch.bfloat16)
    if fp16:
        candidates["fast fp16"] = run(False, torch.float16)
    if compile_:
        try:
            compiled = torch.compile(model, mode=compile_mode)
            candidates["fast fp32 compiled"] = run(False, fn=compiled)
            if bf16:
                candidates["fast bf16 compiled"] = run(False, torch.bfloat16, fn=compiled)
        except Exception as err:  # noqa: BLE001 - optional feature, report and go on
            print(f"torch.compile unavailable: {err}")
    return candidates


def bench(resolution: int | str, batch: int, repeats: int, bf16: bool, compile_: bool, authors: bool,
          device: torch.device | None = None, fp16: bool = False, compile_mode: str | None = None) -> None:
    device = device or torch.device("cpu")
    model = build_model(resolution).to(device)
    resolution = model.config.resolution
    params = sum(p.numel() for p in model.parameters())
    x = torch.rand(batch, 3, resolution, resolution, generator=torch.Generator().manual_seed(1)) * 2 - 1
    x = x.to(device)
    candidates = make_candidates(model, bf16, compile_, authors, fp16, compile_mode)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    outputs: dict[str, torch.Tensor] = {}
    for name, fn in list(candidates.items()):  # warm-up (and compile); drop what fails
        try:
            outputs[name] = fn(x)
        except Exception as err:  # noqa: BLE001
            print(f"{name}: failed ({type(err).__name__}: {err})")
            del candidates[name], times[name]
    for _ in range(repeats):
        for name, fn in candidates.items():
            synchronize(device)
            start = time.perf_counter()
            fn(x)
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    ref = outputs["reference fp32"]
    ref_best = min(times["reference fp32"])
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"threads {torch.get_num_threads()}"
    print(f"\nGPEN-{resolution}  params {params / 1e6:.1f} M  batch {batch}  {where}  repeats {repeats}")
    print(f"{'candidate':<22}{'best s':>9}{'median s':>10}{'ref/this':>10}{'max-abs vs ref':>16}")
    for name, ts in times.items():
        err = (outputs[name] - ref).abs().max().item()
        print(f"{name:<22}{min(ts):>9.3f}{statistics.median(ts):>10.3f}{ref_best / min(ts):>10.2f}{err:>16.2e}")


def forward_flops(model: GPENModel, x: torch.Tensor) -> int:
    """FLOPs of one forward (convolutions and matrix products, as torch's flop counter counts them)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:  # autograd on: the counter's module hooks need it
        model(x, return_dict=False)
    return counter.get_total_flops()


def conv_gflops_per_second(device: torch.device, repeats: int = 5) -> float:
    """Throughput of a dense 3x3 convolution (256 -> 256 channels, 64x64, batch 1, fp32): what this machine's
    convolution library reaches on GPEN's most common layer shape; a ceiling for the whole forward."""
    conv = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False).to(device)
    x = torch.randn(1, 256, 64, 64, device=device)
    flops = 2 * 256 * 256 * 9 * 64 * 64
    best = float("inf")
    with torch.inference_mode():
        for _ in range(repeats + 1):
            synchronize(device)
            start = time.perf_counter()
            conv(x)
            synchronize(device)
            best = min(best, time.perf_counter() - start)
    return flops / best / 1e9


def roofline(resolution: int | str, device: torch.device) -> None:
    """How close any implementation could get: the forward's FLOPs at the dense-conv rate of this machine."""
    model = build_model(resolution).to(device)
    resolution = model.config.resolution
    x = torch.zeros(1, 3, resolution, resolution, device=device)
    flops = forward_flops(model, x)
    rate = conv_gflops_per_second(device)
    print(f"GPEN-{resolution}: {flops / 1e9:.1f} GFLOP per face; dense 3x3 conv here: {rate:.1f} GFLOP/s; "
          f"a forward cannot take less than ~{flops / 1e9 / rate:.2f} s at that rate")


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock times measure it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", nargs="+", default=["512", "256"],
                        help='model sizes (random official-shape weights) or "default" (the shipped model)')
    parser.add_argument("--batch", type=int, nargs="+", default=[1])
    parser.add_argument("--device", default="cpu", help='"cpu" or "cuda" (GPU timings synchronise)')
    parser.add_argument("--fp16", action="store_true", help="also time fp16 autocast (GPU)")
    parser.add_argument("--roofline", action="store_true",
                        help="also print each model's FLOPs and the time they take at this machine's dense-conv rate")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bf16", action="store_true", help="also time bf16 autocast")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (if it works here)")
    parser.add_argument("--compile-mode", default=None,
                        help='torch.compile mode, e.g. "reduce-overhead" (CUDA graphs: for launch-bound GPUs)')
    parser.add_argument("--no-authors", action="store_true",
                        help="skip 'authors fp32' (reference path with glibc's default malloc settings)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cpu":
        print(f"allocator tuning available: {tune_cpu_allocator()}  (all but 'authors fp32' run with it)")
    for resolution in args.resolutions:
        if args.roofline:
            roofline(resolution, device)
        for batch in args.batch:
            bench(resolution, batch, args.repeats, args.bf16, args.compile, not args.no_authors, device, args.fp16,
                  args.compile_mode)


if __name__ == "__main__":
    main()
