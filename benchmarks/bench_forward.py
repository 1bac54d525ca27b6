"""GPEN forward-pass speed: reference (authors' CPU form) vs fast path, fp32 and bf16, side by side.

"authors fp32" is the reference path with glibc's default allocator (as the authors' script runs); every
other candidate runs with :func:`gpen_hf.runtime.tune_cpu_allocator`. Candidates run interleaved in one process (round-robin, ``--repeats`` rounds) so that machine load hits them
alike; the table reports the best and median time of each and ratios against the fp32 reference, plus the
max-abs difference of every candidate's output against the reference output. Random weights with the official
shapes (GPEN-BFR-512: channel_multiplier 2, narrow 1; GPEN-BFR-256: 1, 0.5).

    python benchmarks/bench_forward.py --resolutions 512 256 --threads 2 --repeats 3 --bf16
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from gpen_hf import GPENModel, set_reference_mode
from gpen_hf.runtime import tune_cpu_allocator

OFFICIAL_SHAPES = {256: (1, 0.5), 512: (2, 1.0), 1024: (2, 1.0)}


def build_model(resolution: int, seed: int = 0) -> GPENModel:
    """A GPEN model with the official widths for ``resolution`` and random (seeded) weights."""
    cm, narrow = OFFICIAL_SHAPES.get(resolution, (1, 0.5))
    torch.manual_seed(seed)
    return GPENModel(resolution=resolution, channel_multiplier=cm, narrow=narrow).eval()


def make_candidates(
    model: GPENModel, bf16: bool, compile_: bool, authors: bool
) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """name → function(x) returning the restored image; each sets the model's mode it needs."""

    def run(reference: bool, dtype: torch.dtype | None = None, fn: Callable | None = None, malloc: bool = True):
        def call(x: torch.Tensor) -> torch.Tensor:
            tune_cpu_allocator(malloc)
            set_reference_mode(model, reference)
            with torch.inference_mode(), torch.autocast("cpu", dtype=dtype or torch.bfloat16,
                                                        enabled=dtype is not None):
                return (fn or model)(x, return_dict=False)[0].float()

        return call

    candidates = {"reference fp32": run(True), "fast fp32": run(False)}
    if authors:  # the reference code as the authors' script runs it: glibc's default malloc behaviour
        candidates = {"authors fp32": run(True, malloc=False), **candidates}
    if bf16:
        candidates["fast bf16"] = run(False, torch.bfloat16)
    if compile_:
        try:
            compiled = torch.compile(model)
            candidates["fast fp32 compiled"] = run(False, fn=compiled)
        except Exception as err:  # noqa: BLE001 - optional feature, report and go on
            print(f"torch.compile unavailable: {err}")
    return candidates


def bench(resolution: int, batch: int, repeats: int, bf16: bool, compile_: bool, authors: bool) -> None:
    model = build_model(resolution)
    params = sum(p.numel() for p in model.parameters())
    x = torch.rand(batch, 3, resolution, resolution, generator=torch.Generator().manual_seed(1)) * 2 - 1
    candidates = make_candidates(model, bf16, compile_, authors)
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
            start = time.perf_counter()
            fn(x)
            times[name].append(time.perf_counter() - start)
    ref = outputs["reference fp32"]
    ref_best = min(times["reference fp32"])
    print(f"\nGPEN-{resolution}  params {params / 1e6:.1f} M  batch {batch}  threads {torch.get_num_threads()}"
          f"  repeats {repeats}")
    print(f"{'candidate':<22}{'best s':>9}{'median s':>10}{'ref/this':>10}{'max-abs vs ref':>16}")
    for name, ts in times.items():
        err = (outputs[name] - ref).abs().max().item()
        print(f"{name:<22}{min(ts):>9.3f}{statistics.median(ts):>10.3f}{ref_best / min(ts):>10.2f}{err:>16.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[512, 256])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bf16", action="store_true", help="also time bf16 autocast")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (if it works here)")
    parser.add_argument("--no-authors", action="store_true",
                        help="skip 'authors fp32' (reference path with glibc's default malloc settings)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"allocator tuning available: {tune_cpu_allocator()}  (all but 'authors fp32' run with it)")
    for resolution in args.resolutions:
        bench(resolution, args.batch, args.repeats, args.bf16, args.compile, not args.no_authors)


if __name__ == "__main__":
    main()
