#!/usr/bin/env python
"""Can the discriminator learn? Train only D, against a frozen generator's samples, under several settings.

    python training/check_discriminator.py /work/runs/prior64 --resolution 128 \
        --train_data_dir ../shared/data/ffhq/train/256 --steps 60 \
        --setting 0.2:color,translation,cutout --setting 0.05:color,translation,cutout --setting 0.2:translation

A stage-1 run whose D loss sits at chance (2 ln 2 ~ 1.386) gives G no signal, and the samples drift. This
check separates "D cannot learn under these settings" from "G moves too fast for D": G is frozen, D is trained
with the run's optimiser (Adam, StyleGAN2's lazy-R1 correction) on real batches against ``--fake_batches``
fixed batches of G's samples. Every setting starts from the same D and sees the same batches.

``RUN`` is a stage-1 folder (``generator/`` + ``discriminator/``: a run's output or checkpoint); with a larger
``--resolution`` both are grown as ``pretrain_prior.py --init_from`` grows them. A setting is
``R1_GAMMA:POLICY`` (policy: DiffAugment ops, or ``none``). Prints, per setting, D's mean loss over the first
and the last ``--window`` steps; ``--csv`` writes every step's loss.
"""

from __future__ import annotations

import argparse
import copy
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gpen_hf.models import GPENDiscriminator
from gpen_hf.training.augment import diff_augment, parse_policy
from gpen_hf.training.data import FaceStream
from gpen_hf.training.grow import load_grown
from gpen_hf.training.losses import d_logistic_loss, lazy_adam_hparams, r1_penalty


@dataclass(frozen=True)
class Setting:
    """One D-only run: the R1 weight and the DiffAugment policy."""

    r1_gamma: float
    policy: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Setting:
        gamma, sep, policy = text.partition(":")
        try:
            value = float(gamma)
        except ValueError:
            value = -1.0
        if not sep or value < 0:
            raise argparse.ArgumentTypeError(f"a setting is R1_GAMMA:POLICY (e.g. 0.2:translation), got {text!r}")
        try:
            return cls(value, parse_policy(policy))
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None

    def __str__(self) -> str:
        return f"r1 {self.r1_gamma:g}, {','.join(self.policy) or 'none'}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = parser.add_argument
    a("run", type=Path, help="Stage-1 folder with generator/ and discriminator/ (a run or one of its checkpoints).")
    a("--train_data_dir", nargs="+", required=True, help="Real faces (folders or manifests, as in training).")
    a("--resolution", type=int, default=None, help="Check at this size (grows the models; default: theirs).")
    a("--setting", type=Setting.parse, action="append", required=True, help="R1_GAMMA:POLICY; repeat to compare.")
    a("--steps", type=int, default=60, help="D steps per setting.")
    a("--batch_size", type=int, default=16)
    a("--fake_batches", type=int, default=4, help="Fixed batches of G's samples, used in turn.")
    a("--learning_rate", type=float, default=2e-3)
    a("--r1_every", type=int, default=16, help="Lazy R1 interval (the runs' default).")
    a("--window", type=int, default=10, help="Steps averaged for the first and last loss.")
    a("--seed", type=int, default=0)
    a("--csv", type=Path, default=None, help="Write step, setting, loss rows here.")
    a("--num_threads", type=int, default=None)
    return parser.parse_args(argv)


def train_discriminator(disc: GPENDiscriminator, real: list[torch.Tensor], fake: list[torch.Tensor],
                        setting: Setting, steps: int, lr: float = 2e-3, r1_every: int = 16,
                        seed: int = 0) -> list[float]:
    """Train a copy of ``disc`` for ``steps`` steps (real batch ``i % len(real)``, fake ``i % len(fake)``);
    returns D's logistic loss at each step, before that step's update."""
    disc = copy.deepcopy(disc).train()
    every = r1_every if setting.r1_gamma > 0 else 0
    lr, betas = lazy_adam_hparams(lr, (0.0, 0.99), every)
    optimizer = torch.optim.Adam(disc.parameters(), lr=lr, betas=betas)
    generator = torch.Generator().manual_seed(seed)  # the same augmentations for every setting
    losses = []
    for step in range(steps):
        images = real[step % len(real)].clone().requires_grad_(every > 0 and step % every == 0)
        real_logits = disc(diff_augment(images, setting.policy, generator=generator)).logits
        fake_logits = disc(diff_augment(fake[step % len(fake)], setting.policy, generator=generator)).logits
        loss = d_logistic_loss(real_logits, fake_logits)
        losses.append(float(loss.detach()))
        if images.requires_grad:
            loss = loss + setting.r1_gamma / 2 * r1_penalty(real_logits, images) * every
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return losses


def main(argv: list[str] | None = None) -> dict[Setting, list[float]]:
    args = parse_args(argv)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    torch.manual_seed(args.seed)
    prior, disc = load_grown(args.run, args.resolution)
    prior.eval()
    size = prior.config.resolution
    faces = FaceStream(args.train_data_dir, size, seed=args.seed, flip_prob=0.5)
    batches = min(args.steps, -(-len(faces) // args.batch_size))  # no more real batches than steps need
    real = [torch.stack([faces[i * args.batch_size + j]["target"] for j in range(args.batch_size)])
            for i in range(batches)]
    with torch.no_grad():
        z = torch.randn(args.fake_batches, args.batch_size, prior.config.style_dim)
        fake = [prior(batch) for batch in z]
    results = {s: train_discriminator(disc, real, fake, s, args.steps, args.learning_rate, args.r1_every,
                                      args.seed) for s in args.setting}
    window = min(args.window, args.steps)
    print(f"D alone, {args.steps} steps of {args.batch_size} at {size} px (chance: {2 * np.log(2):.3f})")
    for setting, losses in results.items():
        print(f"  {setting}: first {window} {np.mean(losses[:window]):.3f}, last {window} "
              f"{np.mean(losses[-window:]):.3f}", flush=True)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(("step", "setting", "d_loss"))
            for setting, losses in results.items():
                writer.writerows((i, str(setting), f"{v:.5f}") for i, v in enumerate(losses))
    return results


if __name__ == "__main__":
    main()
