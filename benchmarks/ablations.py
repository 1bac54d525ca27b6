#!/usr/bin/env python
"""The paper's ablations at small scale: same data, seed and step budget for every variant.

    python benchmarks/ablations.py --train_data_dir DATA --output_dir runs/ablations64 \
        --resolution 64 --prior_steps 1500 --finetune_steps 1500 --eval_data EVAL_DIR

Stage 1 trains one StyleGAN2 prior per noise mode (concat, add, none); stage 2 then trains five GPENs:

| variant          | stage-2 decoder                        | paper's name                 |
|------------------|----------------------------------------|------------------------------|
| `full`           | concat prior, fine-tuned               | GPEN                         |
| `add`            | add prior (encoder features added)     | "add" instead of concatenate |
| `none`           | none prior (no encoder features)       | w/o noise inputs             |
| `freeze_decoder` | concat prior, frozen                   | w/o fine-tuning the prior    |
| `no_prior`       | random decoder, concat                 | w/o GAN prior                |

Every run is ``training/pretrain_prior.py`` / ``training/finetune.py`` in its own process, with the options of
the shipped model (``--arch``) and the paper's loss and degradation. ``--calibrate_seconds S`` times a few steps
of each stage first and sets both step budgets to what runs in about S seconds per run (same for all
variants). With ``--eval_data`` the five models are then measured with ``gpen-hf evaluate`` (paper preset,
seed 0) into ``output_dir/ablations.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from gpen_hf.training.progress import read_summary

ROOT = Path(__file__).resolve().parents[1]
PRIOR_MODES = ("concat", "add", "none")
#: variant → (prior noise mode, or None for a random decoder; extra stage-2 options)
VARIANTS: dict[str, tuple[str | None, list[str]]] = {
    "full": ("concat", []),
    "add": ("add", []),
    "none": ("none", []),
    "freeze_decoder": ("concat", ["--freeze_decoder"]),
    "no_prior": (None, ["--noise_mode", "concat"]),
}
CALIBRATION_STEPS = 12


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train_data_dir", required=True, help="Aligned HQ training faces.")
    p.add_argument("--output_dir", required=True, help="One sub-folder per run, plus ablations.json/.md.")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--arch", default="--narrow 0.25 --channel_multiplier 1 --style_dim 256 --n_mlp 8",
                   help="Architecture options of every run (default: the shipped model's, at --resolution).")
    p.add_argument("--train_batch_size", type=int, default=8)
    p.add_argument("--prior_steps", type=int, default=600, help="Stage-1 steps per prior.")
    p.add_argument("--finetune_steps", type=int, default=600, help="Stage-2 steps per variant.")
    p.add_argument("--calibrate_seconds", type=float, default=None,
                   help="Time a few steps first and size both step budgets to about this many seconds per run.")
    p.add_argument("--mixed_precision", default="no", choices=["no", "bf16", "fp16"])
    p.add_argument("--dataloader_num_workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--eval_data", default=None, help="Aligned HQ faces to evaluate the variants on.")
    p.add_argument("--extra", default="", help="Further options passed to every run (both stages).")
    return p.parse_args(argv)


def common_options(args: argparse.Namespace, steps: int, out: Path) -> list[str]:
    return ["--train_data_dir", args.train_data_dir, "--output_dir", str(out), "--resolution", str(args.resolution),
            "--train_batch_size", str(args.train_batch_size), "--max_train_steps", str(steps), "--seed",
            str(args.seed), "--mixed_precision", args.mixed_precision, "--dataloader_num_workers",
            str(args.dataloader_num_workers), "--use_ema", "--checkpointing_steps", "1000000000",
            "--checkpoints_total_limit", "1", "--validation_steps", "0", "--report_to", "none", *args.extra.split()]


def prior_command(args: argparse.Namespace, mode: str, steps: int, out: Path) -> list[str]:
    return [sys.executable, str(ROOT / "training" / "pretrain_prior.py"), *common_options(args, steps, out),
            *args.arch.split(), "--noise_mode", mode, "--diffaugment", "color,translation,cutout", "--random_flip",
            "--ema_decay", "0.995"]


def finetune_command(args: argparse.Namespace, variant: str, prior: Path | None, steps: int, out: Path) -> list[str]:
    _, extra = VARIANTS[variant]
    source = ["--pretrained_prior", str(prior)] if prior is not None else args.arch.split()
    return [sys.executable, str(ROOT / "training" / "finetune.py"), *common_options(args, steps, out), *source,
            "--ema_decay", "0.998", "--degradation_preset", "paper", *extra]


def run(cmd: list[str], log: Path) -> dict:
    """Run one training process (output to ``log``); return the summary it wrote plus the wall time."""
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=fh, text=True, cwd=ROOT, check=False)
        fh.write(proc.stdout)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[1:3])} failed (exit {proc.returncode}); see {log}")
    summary = read_summary(cmd[cmd.index("--output_dir") + 1])
    return {**summary, "wall_seconds": round(time.perf_counter() - start, 1)}


def calibrate(args: argparse.Namespace, out: Path) -> tuple[int, int]:
    """Steps per stage that fit ``--calibrate_seconds`` per run, from the images/s of short runs."""
    cal = out / "calibration"
    prior = run(prior_command(args, "concat", CALIBRATION_STEPS, cal / "prior"), out / "calibration-prior.log")
    gpen = run(finetune_command(args, "full", cal / "prior", CALIBRATION_STEPS, cal / "gpen"),
               out / "calibration-finetune.log")

    def steps(summary: dict) -> int:
        per_step = args.train_batch_size / summary["images_per_second"]
        return max(50, int(args.calibrate_seconds / per_step) // 50 * 50)

    return steps(prior), steps(gpen)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if args.calibrate_seconds:
        args.prior_steps, args.finetune_steps = calibrate(args, out)
    report: dict = {"options": vars(args), "priors": {}, "variants": {}}
    print(f"prior steps {args.prior_steps}, finetune steps {args.finetune_steps}, batch {args.train_batch_size}",
          flush=True)
    modes = sorted({VARIANTS[v][0] for v in args.variants} - {None}, key=PRIOR_MODES.index)
    for mode in modes:
        if (out / f"prior-{mode}" / "generator" / "config.json").is_file():
            print(f"prior {mode}: already trained in {out}, reused", flush=True)
            continue
        report["priors"][mode] = run(prior_command(args, mode, args.prior_steps, out / f"prior-{mode}"),
                                     out / f"prior-{mode}.log")
        print(f"prior {mode}: {report['priors'][mode]['wall_seconds']} s", flush=True)
    for variant in args.variants:
        mode = VARIANTS[variant][0]
        prior = out / f"prior-{mode}" if mode else None
        report["variants"][variant] = run(finetune_command(args, variant, prior, args.finetune_steps, out / variant),
                                          out / f"{variant}.log")
        print(f"{variant}: {report['variants'][variant]['wall_seconds']} s", flush=True)
        (out / "ablations.json").write_text(json.dumps(report, indent=2))
    if args.eval_data:
        models = [a for v in args.variants for a in ("--model", f"{v}={out / v / 'generator'}")]
        subprocess.run([sys.executable, "-m", "gpen_hf.cli", "evaluate", *models, "--data", args.eval_data,
                        "--preset", "paper", "--seed", "0", "--out", str(out / "ablations.md")], cwd=ROOT, check=True)
    return report


if __name__ == "__main__":
    main()
