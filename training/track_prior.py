#!/usr/bin/env python
"""Follow a stage-1 run: KID-AlexNet of each checkpoint's EMA generator against the training faces, and a
fixed-z sample grid per checkpoint (the same z every time, so grids show how the prior's faces form).

    python training/track_prior.py /work/runs/prior64 --train_data_dir FACES... [--num_samples 1000]

Writes ``RUN/track/kid.csv`` (step, kid, kid_std, samples; checkpoints already there are skipped),
``RUN/track/grid-STEP.png`` and ``grid-STEP-no-noise.png`` (the same z with every noise input at zero: what the
prior draws without them; in GPEN those inputs carry the encoder's features). KID-AlexNet is
:func:`gpen_hf.metrics.kid.kid_alexnet` (features of the AlexNet inside the shipped LPIPS weights; nothing is
downloaded). Run it beside the training or after it.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gpen_hf.metrics.kid import AlexNetFeatures, kid_alexnet
from gpen_hf.models import StyleGAN2Prior
from gpen_hf.training.checkpointing import list_checkpoints
from gpen_hf.training.data import FaceStream
from gpen_hf.training.progress import to_uint8_grid

FIELDS = ("step", "kid", "kid_std", "samples")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="Stage-1 output folder (its checkpoint-N/generator folders).")
    parser.add_argument("--train_data_dir", nargs="+", required=True, help="The real faces (the run's sources).")
    parser.add_argument("--num_samples", type=int, default=1000, help="Real and generated images each.")
    parser.add_argument("--grid", type=int, nargs=2, default=(8, 4), metavar=("COLS", "ROWS"))
    parser.add_argument("--seed", type=int, default=0, help="Seed of the fixed z (samples and grid).")
    parser.add_argument("--every", type=int, default=1, help="Only checkpoints whose step is a multiple of this.")
    parser.add_argument("--num_threads", type=int, default=None)
    return parser.parse_args(argv)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def generated_batches(prior: StyleGAN2Prior, z: torch.Tensor, batch: int = 50, no_noise: bool = False):
    with torch.no_grad():
        for start in range(0, len(z), batch):
            torch.manual_seed(start)  # the noise inputs too: a checkpoint always gets the same samples
            chunk = z[start:start + batch]
            noise = prior.generator.zero_noise(len(chunk)) if no_noise else None
            yield to_uint8(prior.generator(chunk, noise=noise))


def rows_of(images: torch.Tensor, cols: int, rows: int) -> list[torch.Tensor]:
    """The first ``cols * rows`` uint8 images as grid rows in [-1, 1] (exact round trip of ``to_uint8``)."""
    return [images[r * cols:(r + 1) * cols].float() / 127.5 - 1 for r in range(rows)]


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    out = args.run / "track"
    out.mkdir(parents=True, exist_ok=True)
    table = out / "kid.csv"
    done: set[int] = set()
    if table.is_file():
        with open(table, newline="") as f:
            done = {int(r["step"]) for r in csv.DictReader(f)}
    todo = [(s, p) for s, p in list_checkpoints(args.run)
            if s % args.every == 0 and s not in done and (p / "generator" / "config.json").is_file()]
    rows: list[dict] = []
    if not todo:
        return rows
    features = AlexNetFeatures()
    first = StyleGAN2Prior.from_pretrained(todo[0][1], subfolder="generator")
    faces = FaceStream(args.train_data_dir, first.config.resolution, seed=args.seed, flip_prob=0.0)
    count = min(args.num_samples, len(faces))
    real = torch.from_numpy(np.stack([faces.hq_face(i) for i in range(count)])).permute(0, 3, 1, 2)
    z = torch.randn(count, first.config.style_dim, generator=torch.Generator().manual_seed(args.seed))
    cols, grid_rows = args.grid
    for step, path in todo:
        prior = StyleGAN2Prior.from_pretrained(path, subfolder="generator").eval()
        fake = torch.cat(list(generated_batches(prior, z)))
        Image.fromarray(to_uint8_grid(rows_of(fake, cols, grid_rows))).save(out / f"grid-{step:07d}.png")
        silent = torch.cat(list(generated_batches(prior, z[:cols * grid_rows], no_noise=True)))
        Image.fromarray(to_uint8_grid(rows_of(silent, cols, grid_rows))).save(out / f"grid-{step:07d}-no-noise.png")
        kid, kid_std = kid_alexnet(real.split(100), fake.split(100), features=features,
                                   subset_size=min(100, count))
        row = {"step": step, "kid": f"{kid:.5f}", "kid_std": f"{kid_std:.5f}", "samples": count}
        new_file = not table.is_file()
        with open(table, "a", newline="") as f:
            writer = csv.DictWriter(f, FIELDS)
            if new_file:
                writer.writeheader()
            writer.writerow(row)
        print(f"step {step}: KID-AlexNet {kid * 1000:.2f} ± {kid_std * 1000:.2f} (x1000, {count} samples)", flush=True)
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
