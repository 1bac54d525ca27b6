#!/usr/bin/env python
"""Stage 2 of GPEN: embed the GAN prior in the U-Net and fine-tune on synthetic LQ/HQ pairs.

    accelerate launch training/finetune.py --pretrained_prior prior-out --train_data_dir faces --output_dir gpen-out

Loss as in the paper: L = L_A + alpha·L_C + beta·L_F (alpha 1, beta 0.02), R1 on the discriminator.
See training/README.md for multi-GPU and multi-node launch lines.
"""

from __future__ import annotations

import argparse

from gpen_hf.degradation import PRESETS
from gpen_hf.training.data import MAX_JITTER
from gpen_hf.training.finetune import run
from gpen_hf.training.setup import add_architecture_args, add_common_args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    a = parser.add_argument
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--pretrained_prior", default=None,
                     help="Stage-1 output folder: its (EMA) generator becomes the decoder + mapping network, its "
                          "discriminator (if any) initialises D.")
    src.add_argument("--pretrained_model_name_or_path", default=None,
                     help="An existing GPENModel (folder or Hub id, e.g. a converted official checkpoint) to "
                          "fine-tune; a 'discriminator' subfolder is used when present.")
    add_architecture_args(parser, new_models_only=True)
    a("--freeze_decoder", action="store_true", help="Ablation: do not fine-tune the prior (decoder + mapping).")
    a("--alpha", type=float, default=1.0, help="Weight of the L1 content loss L_C.")
    a("--beta", type=float, default=0.02, help="Weight of the feature-matching loss L_F.")
    a("--identity_weight", type=float, default=0.0,
      help="Weight of an identity term (1 - cosine of the shipped face descriptor, restored vs HQ; not in the "
           "paper; needs --resolution >= 64). 0: off.")
    a("--degradation_preset", choices=list(PRESETS), default="paper",
      help="Synthetic degradation: the paper's (blur, ↓10–200 on 1024 px, noise, JPEG 5–50) or GFPGAN's.")
    a("--random_flip", action="store_true",
      help="Mirror HQ faces at random before degrading them (doubles the distinct faces of a small set).")
    a("--random_jitter", type=float, default=0.0, metavar="J",
      help="Shift (≤ J·size), scale (1 ± J) and turn (≤ J·60°) HQ faces at random before degrading them, like "
           "alignment error (0: off; 0.04 is mild).")
    a("--validation_data_dir", default=None, help="Faces for the validation grid (default: the training faces).")
    args = parser.parse_args(argv)
    if not 0.0 <= args.random_jitter < MAX_JITTER:  # FaceStream checks it too, but only after the models load
        parser.error(f"--random_jitter must be in [0, {MAX_JITTER}), got {args.random_jitter}")
    return args


if __name__ == "__main__":
    run(parse_args())  # writes output_dir/summary.json
