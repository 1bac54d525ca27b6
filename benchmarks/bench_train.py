#!/usr/bin/env python
"""Stage-2 training throughput (images/s) through the real CLI, fp32 vs bf16 autocast, at 64 and 128 px.

    python benchmarks/bench_train.py                 # README numbers
    python benchmarks/bench_train.py --steps 6 --resolutions 64

Each configuration runs ``training/finetune.py`` in a fresh process on synthetic faces (validation and
checkpointing off, data loading, degradation, lazy R1 every 16 steps and EMA on) and reports the images/s
of the steps after the first two. Runs are sequential on the same machine, so the ratios are comparable.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from gpen_hf.training.progress import read_summary

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resolutions", type=int, nargs="+", default=[64, 128], help="Training sizes to measure.")
    p.add_argument("--precisions", nargs="+", default=["no", "bf16"], help="--mixed_precision values.")
    p.add_argument("--steps", type=int, default=18, help="Optimiser steps per run (first 2 not timed; 18 "
                                                         "includes one lazy R1 step in the timed window).")
    p.add_argument("--batch_size", type=int, default=8, help="--train_batch_size.")
    p.add_argument("--workers", type=int, default=1, help="--dataloader_num_workers.")
    p.add_argument("--model", default="--narrow 0.25 --channel_multiplier 2 --style_dim 256 --n_mlp 8",
                   help="Architecture options passed to finetune.py.")
    return p.parse_args()


def make_faces(root: Path, n: int = 32, size: int = 256) -> None:
    """Smooth random colour fields: realistic cost for resizing/degradation, no real faces needed."""
    rng = np.random.default_rng(0)
    for i in range(n):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BICUBIC).save(root / f"{i:03d}.png")


def run(faces: Path, out: Path, resolution: int, precision: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, str(ROOT / "training" / "finetune.py"), "--train_data_dir", str(faces), "--output_dir",
           str(out), "--resolution", str(resolution), "--train_batch_size", str(args.batch_size),
           "--max_train_steps", str(args.steps), "--mixed_precision", precision, "--use_ema",
           "--checkpointing_steps", "1000000", "--validation_steps", "0", "--report_to", "none",
           "--dataloader_num_workers", str(args.workers), *args.model.split()]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return read_summary(out)


def main() -> None:
    args = parse_args()
    print(f"model: {args.model}; batch {args.batch_size}; {args.steps} steps; workers {args.workers}")
    with tempfile.TemporaryDirectory() as tmp:
        faces = Path(tmp) / "faces"
        faces.mkdir()
        make_faces(faces)
        print(f"{'res':>5} " + " ".join(f"{p:>10}" for p in args.precisions) + "   (images/s)")
        for res in args.resolutions:
            speeds = [run(faces, Path(tmp) / f"out-{res}-{p}", res, p, args)["images_per_second"]
                      for p in args.precisions]
            ratio = f"   {args.precisions[1]}/{args.precisions[0]} = {speeds[1] / speeds[0]:.2f}x" if len(speeds) > 1 else ""
            print(f"{res:>5} " + " ".join(f"{s:>10.2f}" for s in speeds) + ratio, flush=True)


if __name__ == "__main__":
    main()
