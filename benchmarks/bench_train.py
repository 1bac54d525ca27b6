#!/usr/bin/env python
"""Training throughput (images/s) of both stages through their real command lines, and old code against new.

    python benchmarks/bench_train.py --baseline 63a6dc6          # both stages, this tree vs that commit
    python benchmarks/bench_train.py --stages finetune --resolutions 128 --precisions no bf16   # GPU check

Each configuration (stage, resolution, precision) runs ``training/pretrain_prior.py`` or ``training/finetune.py``
in a fresh process on synthetic faces (validation and checkpointing off; data loading, degradation, DiffAugment,
lazy R1 every 16 steps and EMA on, as in the plan `training/configs/gpen-ffhq-128.sh`) and reports the images/s
of the steps after the first two. With ``--baseline REV`` the same runs also use the code of commit REV
(a temporary ``git worktree``), alternating old and new ``--repeats`` times, best of each: ratios from one run
of this script on one machine are what compare; the absolute numbers depend on what else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {"prior": "pretrain_prior.py", "finetune": "finetune.py"}
STAGE_OPTIONS = {  # what each stage's runs in the plan add to the common options
    "prior": ["--diffaugment", "color,translation,cutout", "--random_flip", "--r1_gamma", "0.05"],
    "finetune": ["--degradation_preset", "paper", "--random_flip"],
}
# Imports the stage script of a code tree, runs it, writes the summary its run() returns (old and new code alike).
RUNNER = """
import importlib, json, sys
from pathlib import Path
script, out, *argv = sys.argv[1:]
sys.path.insert(0, str(Path(script).parent))
stage = importlib.import_module(Path(script).stem)
Path(out).write_text(json.dumps(stage.run(stage.parse_args(argv))))
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stages", nargs="+", choices=list(SCRIPTS), default=list(SCRIPTS), help="Stages to measure.")
    p.add_argument("--resolutions", type=int, nargs="+", default=[64, 128], help="Training sizes.")
    p.add_argument("--precisions", nargs="+", default=["no"], help="--mixed_precision values (bf16: GPUs/AMX).")
    p.add_argument("--baseline", default=None, help="Also run the code of this git revision (old vs new).")
    p.add_argument("--repeats", type=int, default=1, help="Alternating runs per code tree (best one counts).")
    p.add_argument("--steps", type=int, default=18, help="Optimiser steps per run (first 2 not timed; 18 "
                                                         "includes one lazy R1 step in the timed window).")
    p.add_argument("--batch_size", type=int, nargs=2, default=[16, 8], metavar=("PRIOR", "FINETUNE"),
                   help="--train_batch_size of stage 1 and stage 2 (the plan's: 16, 8).")
    p.add_argument("--threads", type=int, default=1, help="--num_threads (the plan's CPU runs: 1).")
    p.add_argument("--workers", type=int, default=1, help="--dataloader_num_workers.")
    p.add_argument("--model", default="--narrow 0.25 --channel_multiplier 1 --style_dim 256 --n_mlp 8",
                   help="Architecture options (default: the shipped model's).")
    return p.parse_args()


def make_faces(root: Path, n: int = 32, size: int = 256) -> None:
    """Smooth random colour fields: realistic cost for resizing/degradation, no real faces needed."""
    rng = np.random.default_rng(0)
    for i in range(n):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BICUBIC).save(root / f"{i:03d}.png")


def run(tree: Path, stage: str, resolution: int, precision: str, faces: Path, out: Path,
        args: argparse.Namespace) -> float:
    """Images/s of one training process of ``stage`` with the code of ``tree``."""
    batch = args.batch_size[list(SCRIPTS).index(stage)]
    argv = ["--train_data_dir", str(faces), "--output_dir", str(out), "--resolution", str(resolution),
            "--train_batch_size", str(batch), "--max_train_steps", str(args.steps), "--mixed_precision", precision,
            "--use_ema", "--ema_decay", "0.998", "--checkpointing_steps", "1000000", "--validation_steps", "0",
            "--report_to", "none", "--num_threads", str(args.threads), "--dataloader_num_workers",
            str(args.workers), "--seed", "0", *STAGE_OPTIONS[stage], *args.model.split()]
    result = out / "bench-summary.json"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(tree / "training" / SCRIPTS[stage]), str(result), *argv],
                          capture_output=True, text=True, cwd=tree, env=env, check=False)
    if proc.returncode:
        raise RuntimeError(f"{stage} with the code of {tree} failed:\n{proc.stderr[-3000:]}")
    return json.loads(result.read_text())["images_per_second"]


def main() -> None:
    args = parse_args()
    print(f"model: {args.model}; batch {args.batch_size[0]} (prior) / {args.batch_size[1]} (finetune); "
          f"{args.steps} steps; {args.threads} thread(s); {args.workers} worker(s)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        faces = tmp / "faces"
        faces.mkdir()
        make_faces(faces)
        trees = {"new": ROOT}
        if args.baseline:
            old = tmp / "baseline"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(old), args.baseline],
                           check=True)
            trees = {f"old ({args.baseline})": old, "new": ROOT}
        try:
            names = list(trees)
            print(f"{'stage':>9} {'res':>5} {'precision':>9} " + " ".join(f"{n:>16}" for n in names)
                  + ("   new/old" if len(names) > 1 else "") + "   (images/s)")
            for stage in args.stages:
                for res in args.resolutions:
                    for precision in args.precisions:
                        best = {n: 0.0 for n in names}
                        for r in range(args.repeats):
                            for n in names:
                                out = tmp / f"out-{stage}-{res}-{precision}-{r}-{names.index(n)}"
                                best[n] = max(best[n], run(trees[n], stage, res, precision, faces, out, args))
                        ratio = f"   {best['new'] / best[names[0]]:.2f}x" if len(names) > 1 else ""
                        print(f"{stage:>9} {res:>5} {precision:>9} " + " ".join(f"{best[n]:>16.2f}" for n in names)
                              + ratio, flush=True)
        finally:
            if args.baseline:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)


if __name__ == "__main__":
    main()
