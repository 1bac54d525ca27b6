#!/usr/bin/env python
"""Stage 1 of GPEN: train the StyleGAN2 generator that becomes GPEN's decoder (the GAN prior).

    accelerate launch training/pretrain_prior.py --train_data_dir faces --output_dir prior-out --diffaugment color,translation,cutout

Writes ``generator/`` (the EMA weights with --use_ema) and ``discriminator/`` (diffusers folders) that
``training/finetune.py --pretrained_prior prior-out`` reads. See training/README.md for launch lines.
"""

from __future__ import annotations

import argparse

from gpen_hf.training.pretrain import run
from gpen_hf.training.setup import add_architecture_args, add_common_args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    a = parser.add_argument
    add_architecture_args(parser)
    a("--mixing_prob", type=float, default=0.9, help="Probability of style mixing per batch (StyleGAN2: 0.9).")
    a("--path_length_weight", type=float, default=0.0, help="Path-length regulariser weight (StyleGAN2: 2; 0: off).")
    a("--path_length_every", type=int, default=4, help="Lazy path-length regularisation interval.")
    a("--path_length_batch_shrink", type=int, default=2, help="Path-length batch = batch size / this.")
    a("--diffaugment", default="none",
      help='DiffAugment policy for D inputs, e.g. "color,translation,cutout" (recommended under ~10k faces).')
    a("--mbstd_group_size", type=int, default=0, help="Minibatch-stddev group (0: whole batch, as GPEN's D).")
    a("--random_flip", action="store_true", help="Mirror real faces at random (x-flips).")
    a("--init_from", default=None,
      help="Start from the weights of a stage-1 folder (generator/ + discriminator/: a run's output or checkpoint) "
           "of this or a smaller resolution; when smaller, the prior is grown: its layers are kept and the new top "
           "layers start so that the first samples are its samples upsampled.")
    return parser.parse_args(argv)


if __name__ == "__main__":
    run(parse_args())  # writes output_dir/summary.json
