#!/usr/bin/env bash
# The plan for the next default model (issue #20): GPEN 128 px, the shipped architecture (narrow 0.25,
# channel_multiplier 1, style_dim 256, n_mlp 8: 4.7 M parameters), a real GAN prior from FFHQ, then stage 2
# with the paper's loss. Fixed before the long runs; what ships is the last checkpoint of the plan.
# Hardware: 2-core AMD EPYC (AVX2), CPU only, fp32, runs resumed across sessions (--resume_from_checkpoint
# latest); a lent GPU runs the same commands in chunks (training/gpu/run_chunk.sh).
set -euo pipefail
SHARED=${SHARED:-../shared}
RUNS=${RUNS:-/work/runs}
DATA=${DATA:-/work/data}
ARCH="--narrow 0.25 --channel_multiplier 1 --style_dim 256 --n_mlp 8"
# torch threads: 2 when the run has the machine to itself (1.79x the images/s of 1 thread at 64 px:
# `python benchmarks/bench_train.py --stages prior --resolutions 64 --threads 2`), THREADS=1 beside other work.
THREADS=${THREADS:-2}

# Data. Prior (stage 1): every training face we have: ../shared/data/ffhq/train (740 at 256 px, JPEG q~75;
# 3,899 at 128 px, JPEG q~50) + the 152 `train` faces of ../shared/data/faces (512 px) = 4,791 faces. Linked into
# one folder (file order: faces_*, ffhq128_*, ffhq256_*). At 64 px every source is clean (area-downscaling removes
# the q~50 blocking); at 128 px the q~50 faces count 0.25 each (they would teach the prior to draw blocking).
# Never: ../shared/data/ffhq/eval (100) and the 12 `eval` faces of ../shared/data/faces.
mkdir -p "$DATA/prior-train"
for f in "$SHARED"/data/ffhq/train/256/* "$SHARED"/data/ffhq/train/128/*; do
  ln -sf "$(realpath "$f")" "$DATA/prior-train/ffhq$(basename "$(dirname "$f")")_$(basename "$f")"
done
# Our faces by split: `train` into the prior's folder (prefixed faces_), `eval` and `real_lq` (the evaluation
# and the contact sheets at the end) into eval512/ and real_lq512/.
python3 - "$SHARED/data/faces" "$DATA" <<'PY'
import csv, os, sys
faces, data = sys.argv[1:]
where = {"train": ("prior-train", "faces_"), "eval": ("eval512", ""), "real_lq": ("real_lq512", "")}
for row in csv.DictReader(open(os.path.join(faces, "MANIFEST.csv"))):
    if row["kind"] == "aligned_face" and row["split"] in where:
        folder, prefix = where[row["split"]]
        os.makedirs(os.path.join(data, folder), exist_ok=True)
        dst = os.path.join(data, folder, prefix + os.path.basename(row["file"]))
        os.path.exists(dst) or os.symlink(os.path.realpath(os.path.join(faces, row["file"])), dst)
PY

# Stage 1a: the prior at 64 px, 8,000 steps of 16 (128k images, ~27 epochs). StyleGAN2 recipe; settings from
# StyleGAN2-ADA's rules, not from pilots: R1 gamma = 0.0002 * 64^2 / 16 ~ 0.05, EMA half-life ~5k images
# (0.998 per step), DiffAugment color,translation,cutout (under ~10k faces), x-flips, lr 2e-3 constant.
python training/pretrain_prior.py --train_data_dir "$DATA/prior-train" --output_dir "$RUNS/prior64" \
  --resolution 64 $ARCH --train_batch_size 16 --max_train_steps 8000 --learning_rate 2e-3 --r1_gamma 0.05 \
  --r1_every 16 --diffaugment color,translation,cutout --random_flip --use_ema --ema_decay 0.998 \
  --checkpointing_steps 250 --checkpoints_total_limit 40 --validation_steps 500 --num_validation_images 16 \
  --report_to tensorboard --seed 0 --mixed_precision no --num_threads "$THREADS" --dataloader_num_workers 1 \
  --resume_from_checkpoint latest

# Tracking: KID-AlexNet of every 1,000th checkpoint (and the 250-2,000 ones, run beside it) against 500 training
# faces, fixed-z grids (~3 min a checkpoint on this CPU, so not every 500th).
python training/track_prior.py "$RUNS/prior64" --train_data_dir "$DATA/prior-train" --num_samples 500 --every 1000

# Stage 1b: grown to 128 px (--init_from: the 64-px layers kept, the new ToRGB starts at zero), 4,000 steps of
# 16 (64k images); R1 gamma 0.0002 * 128^2 / 16 ~ 0.2; the q~50 128-px faces weighted 0.25. G's learning rate
# ramps up over the first 500 steps (--g_warmup_steps) while D, whose 128-px input layers start random, trains
# at full rate: without it (the first 1b run, 1,281 steps) D stayed at chance (loss 1.38 from step 10 on) and
# the grown prior lost its faces (training/README.md, "Growing the prior"). DiffAugment: translation only; with
# color and cutout too, D-only checks at 128 px barely learned (loss 1.19 after 60 steps, against 0.45).
one_b() {  # stage 1b to --max_train_steps N (resumes the latest checkpoint)
  # shellcheck disable=SC2086  # $ARCH is several options
  python training/pretrain_prior.py --init_from "$RUNS/prior64" \
    --train_data_dir "$SHARED/data/ffhq/train/256" "$SHARED/data/ffhq/train/128" "$SHARED/data/faces/MANIFEST.csv" \
    --source_weights 1 0.25 1 --manifest_filter split=train kind=aligned_face --output_dir "$RUNS/prior128" \
    --resolution 128 $ARCH --train_batch_size 16 --learning_rate 2e-3 --r1_gamma 0.2 --r1_every 16 \
    --diffaugment translation --random_flip --use_ema --ema_decay 0.998 --checkpointing_steps 250 \
    --checkpoints_total_limit 40 --validation_steps 500 --num_validation_images 16 --report_to tensorboard \
    --seed 1 --mixed_precision no --num_threads "$THREADS" --dataloader_num_workers 1 \
    --resume_from_checkpoint latest --g_warmup_steps 500 "$@"
}
track128() {  # RUN: KID-AlexNet and grids of every 1,000th checkpoint of a 128-px stage-1 folder
  python training/track_prior.py "$1" --train_data_dir "$SHARED/data/ffhq/train/256" --num_samples 500 --every 1000
}

# The rule for 1b (training/README.md, "Growing the prior"; fixed at its step 1,000): at step 2,000, KID-AlexNet
# against 500 training faces must be below the grown start's (the 64-px prior upsampled, kept as a stage-1
# folder in prior128-start/checkpoint-0); if not, 1b stops and stage 2 starts from the grown start. (Stopping at
# 2,000 and resuming to 4,000 trains exactly as one run: constant learning rate, exact resumption.)
python - "$RUNS" <<'PY'
import os, sys
from gpen_hf.training.grow import load_grown
start = os.path.join(sys.argv[1], "prior128-start", "checkpoint-0")
if not os.path.isfile(os.path.join(start, "discriminator", "config.json")):
    for name, model in zip(("generator", "discriminator"), load_grown(os.path.join(sys.argv[1], "prior64"), 128)):
        model.save_pretrained(os.path.join(start, name))
PY
track128 "$RUNS/prior128-start"
one_b --max_train_steps 2000
track128 "$RUNS/prior128"
PRIOR128=$(python - "$RUNS" <<'PY'
import csv, os, sys
def kid(run, step):
    with open(os.path.join(run, "track", "kid.csv"), newline="") as f:
        return next(float(r["kid"]) for r in csv.DictReader(f) if int(r["step"]) == step)
runs = sys.argv[1]
start, at_2000 = kid(os.path.join(runs, "prior128-start"), 0), kid(os.path.join(runs, "prior128"), 2000)
grown = at_2000 < start
print(f"1b rule: KID-AlexNet {at_2000 * 1000:.0f} at step 2,000, {start * 1000:.0f} at the start: "
      f"{'1b goes on' if grown else 'stage 2 starts from the grown start'}", file=sys.stderr)
print(os.path.join(runs, "prior128") if grown else os.path.join(runs, "prior128-start", "checkpoint-0"))
PY
)
if [ "$PRIOR128" = "$RUNS/prior128" ]; then
  one_b --max_train_steps 4000
  track128 "$RUNS/prior128"
fi
export PRIOR=$PRIOR128  # the pilots' prior

# Stage-2 pilots (training/pilots/gpen-ffhq-128-stage2.sh): four 600-step runs on training faces, judged on 100
# training faces they do not train on, by the rule written in training/README.md before they ran. A person
# applies the rule, looks at the pilots' sheets and writes the winner's letter into $RUNS/pilots/CHOSEN; the
# chain stops here until then.
bash training/pilots/gpen-ffhq-128-stage2.sh
if [ ! -f "$RUNS/pilots/CHOSEN" ]; then
  echo "pilots done: apply the rule of training/README.md, then: echo LETTER > $RUNS/pilots/CHOSEN"
  exit 0
fi
. training/pilots/gpen-ffhq-128-stage2-settings.sh
LETTER=$(cat "$RUNS/pilots/CHOSEN")
CHOSEN=${PILOT[$LETTER]:-}
if [ -z "$CHOSEN" ]; then
  echo "$RUNS/pilots/CHOSEN: expected one of ${!PILOT[*]}, got '$LETTER'" >&2
  exit 1
fi

# Stage 2: GPEN from the 128-px prior, the chosen pilot's settings, 8,000 steps of 8 (64k LQ/HQ pairs made on
# the fly with the paper's degradation preset, ~4 h here) on the 892 clean faces (ffhq/train/256 + the 152
# `train` faces; the q~50 128-px faces are never targets). R1 gamma 0.2 and EMA 0.998 as in stage 1b, x-flips.
python training/finetune.py --pretrained_prior "$PRIOR128" \
  --train_data_dir "$SHARED/data/ffhq/train/256" "$SHARED/data/faces/MANIFEST.csv" \
  --manifest_filter split=train kind=aligned_face --output_dir "$RUNS/gpen-ffhq-128" --resolution 128 \
  --train_batch_size 8 --max_train_steps 8000 $CHOSEN --r1_gamma 0.2 --r1_every 16 --use_ema --ema_decay 0.998 \
  --degradation_preset paper --random_flip --checkpointing_steps 250 --checkpoints_total_limit 4 \
  --validation_steps 1000 --report_to tensorboard --seed 0 --mixed_precision no --num_threads "$THREADS" \
  --dataloader_num_workers 1 --resume_from_checkpoint latest

# Evaluation against the model it replaces (both eval splits, every table of the issue; nothing ships yet) and
# the contact sheets a person looks at before shipping with `--write` added to the first command.
python scripts/ship_default_model.py --model "$RUNS/gpen-ffhq-128/generator" \
  --ffhq_eval "$SHARED/data/ffhq/eval/256" --faces_eval "$DATA/eval512" \
  --card_facts training/configs/gpen-ffhq-128-card.json --tables "$RUNS/eval-new"
python scripts/contact_sheets.py --model previous=gpen_hf/assets/gpen-default \
  --model new="$RUNS/gpen-ffhq-128/generator" --eval_data "$SHARED/data/ffhq/eval/256" \
  --real_lq "$DATA/real_lq512" --out "$RUNS/sheets"
