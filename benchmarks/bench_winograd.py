"""Per-layer speed of the 3x3 convolutions of GPEN: direct (oneDNN, channels_last) vs Winograd F(2x2) / F(4x4).

The shapes are the stride-1 3x3 decoder convolutions of GPEN-512 and GPEN-256 (input channels doubled by the
concatenated encoder features), batch 1, fp32. Candidates run interleaved (round-robin, ``--repeats`` rounds)
so machine load hits them alike; the table gives the best time of each, the direct/Winograd ratio, and the
max-abs difference against the direct convolution. :func:`gpen_hf.models.winograd.winograd_tile` is the rule
read off this table.

    python benchmarks/bench_winograd.py --threads 2 --repeats 5
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from gpen_hf.models.winograd import winograd_conv2d, winograd_tile, winograd_weight
from gpen_hf.runtime import tune_cpu_allocator

# (in, out, size): GPEN-512 (channel_multiplier 2, narrow 1) then GPEN-256 (1, 0.5), concat noise mode
SHAPES = [(1024, 512, 16), (1024, 512, 32), (1024, 512, 64), (512, 256, 128), (256, 128, 256), (128, 64, 512),
          (512, 256, 32), (256, 128, 64), (128, 64, 128), (64, 32, 256)]


def bench_shape(c_in: int, c_out: int, size: int, repeats: int) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, c_in, size, size, generator=g).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(c_out, c_in, 3, 3, generator=g) / (3 * c_in**0.5)
    direct_weight = weight.contiguous(memory_format=torch.channels_last)
    u2, u4 = winograd_weight(weight, 2), winograd_weight(weight, 4)
    candidates = {
        "direct": lambda: F.conv2d(x, direct_weight, padding=1),
        "F(2x2)": lambda: winograd_conv2d(x, u2, 2),
        "F(4x4)": lambda: winograd_conv2d(x, u4, 4),
    }
    outputs = {name: fn() for name, fn in candidates.items()}  # warm-up
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    direct = min(times["direct"])
    cells = []
    for name, ts in times.items():
        err = (outputs[name] - outputs["direct"]).abs().max().item()
        cells.append(f"{min(ts) * 1e3:8.1f} ms {direct / min(ts):5.2f}x {err:8.1e}")
    rule = winograd_tile(c_in, c_out, size, size)
    print(f"{c_in:>5} {c_out:>5} {size:>4}  " + "  ".join(cells) + f"   rule: {'F(4x4)' if rule else 'direct'}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", help="only these spatial sizes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tune_cpu_allocator()
    print(f"threads {torch.get_num_threads()}, repeats {args.repeats}; per candidate: best time, direct/this, "
          "max-abs vs direct")
    print(f"{'in':>5} {'out':>5} {'size':>4}  {'direct':^27}  {'F(2x2)':^27}  {'F(4x4)':^27}")
    with torch.inference_mode():
        for c_in, c_out, size in SHAPES:
            if args.sizes is None or size in args.sizes:
                bench_shape(c_in, c_out, size, args.repeats)


if __name__ == "__main__":
    main()
