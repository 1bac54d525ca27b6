#!/usr/bin/env python
"""Copy a training checkpoint at about half its size, to carry a run to another machine or keep it in git.

    python training/carry_checkpoint.py /work/runs/prior64/checkpoint-2750 training/resume/prior64

Models, EMA, schedulers, RNG states and the step are kept, so ``--resume_from_checkpoint latest`` with
``--output_dir`` set to the destination resumes there; the optimisers' moments are dropped and start afresh
(:func:`gpen_hf.training.checkpointing.carry_checkpoint`).
"""

from __future__ import annotations

import argparse

from gpen_hf.training.checkpointing import carry_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a complete checkpoint folder, checkpoint-<step>")
    parser.add_argument("dest_dir", help="the run folder to copy it into (created)")
    args = parser.parse_args()
    print(carry_checkpoint(args.checkpoint, args.dest_dir))


if __name__ == "__main__":
    main()
