#!/usr/bin/env bash
# The command lines that produced the shipped model gpen_hf/assets/gpen-default (GPEN 128 px): the chain of runs
# whose weights ship, in order. The candidates that were trained beside them and not chosen, the selection rules
# and their tables are in the model card (gpen_hf/assets/gpen-default/README.md, "stage 2 ... phases").
# Data: the 152 `train` faces of ../shared/data/faces (aligned 512x512, MANIFEST.csv split == train), linked into
# one folder; the 12 `eval` faces are never trained on. Hardware: 2-core AMD EPYC (AVX2), CPU only, fp32.
set -euo pipefail
DATA=${DATA:-/work/data/train512}
RUNS=${RUNS:-/work/runs}
ARCH="--narrow 0.25 --channel_multiplier 1 --style_dim 256 --n_mlp 8"
COMMON="--resolution 128 --train_batch_size 8 --use_ema --ema_decay 0.998 --report_to tensorboard
  --mixed_precision no --degradation_preset paper --resume_from_checkpoint latest"

# Stage 1: the StyleGAN2 prior, 400 steps of 8.
accelerate launch training/pretrain_prior.py --train_data_dir "$DATA" --output_dir "$RUNS/prior128" \
  --resolution 128 $ARCH --train_batch_size 8 --max_train_steps 400 --diffaugment color,translation,cutout \
  --random_flip --use_ema --ema_decay 0.995 --checkpointing_steps 100 --validation_steps 200 \
  --report_to tensorboard --seed 0 --mixed_precision no --resume_from_checkpoint latest

# Stage 2, phases 1-2: the paper's loss (alpha 1, beta 0.02) for 2,600 steps, then alpha 10 to step 4,800 (the
# same run continued from its checkpoint-2600: data stream, EMA and Adam carry on).
accelerate launch training/finetune.py --pretrained_prior "$RUNS/prior128" --train_data_dir "$DATA" \
  --output_dir "$RUNS/gpen128" --max_train_steps 2600 --checkpointing_steps 200 --seed 0 --num_threads 2 $COMMON
accelerate launch training/finetune.py --pretrained_prior "$RUNS/prior128" --train_data_dir "$DATA" \
  --output_dir "$RUNS/gpen128-a10" --max_train_steps 4800 --alpha 10 --checkpointing_steps 200 --seed 0 \
  --num_threads 2 $COMMON --resume_from_checkpoint "$RUNS/gpen128/checkpoint-2600"

# Phases 3-5, each from the previous phase's weights (fresh Adam and EMA), cosine lr with 50 warm-up steps:
# alpha 150 (lr 1e-3, 1,600 steps), then x-flips (lr 5e-4, 1,600 steps), then alpha 200 (lr 3e-4; its
# checkpoint-1000 goes on).
finetune_from() {  # START OUTPUT STEPS ALPHA LR SEED [options...]
  local start=$1 out=$2 steps=$3 alpha=$4 lr=$5 seed=$6
  shift 6
  accelerate launch training/finetune.py --pretrained_model_name_or_path "$start" --train_data_dir "$DATA" \
    --output_dir "$out" --max_train_steps "$steps" --alpha "$alpha" --learning_rate "$lr" --lr_scheduler cosine \
    --lr_warmup_steps 50 --checkpointing_steps 100 --seed "$seed" --num_threads 1 $COMMON "$@"
}
finetune_from "$RUNS/gpen128-a10" "$RUNS/gpen128-p3-a150" 1600 150 1e-3 3
finetune_from "$RUNS/gpen128-p3-a150" "$RUNS/gpen128-p4f-a150" 1600 150 5e-4 5 --random_flip
finetune_from "$RUNS/gpen128-p4f-a150" "$RUNS/gpen128-p5f-a200" 1400 200 3e-4 6 --random_flip

# A checkpoint of those runs held the EMA generator and the raw discriminator; a start folder is put together
# from it (checkpoints written now hold discriminator/ too and can be passed directly).
start_folder() {  # CHECKPOINT RUN DEST
  mkdir -p "$3/discriminator" && cp -r "$1/generator" "$3/"
  cp "$2/discriminator/config.json" "$3/discriminator/"
  cp "$1/model_1.safetensors" "$3/discriminator/diffusion_pytorch_model.safetensors"
}

# Phase 6: from phase 5's checkpoint-1000, alpha 300, lr 2e-4, x-flips and alignment-like jitter of the HQ
# faces (its checkpoint-800 goes on).
start_folder "$RUNS/gpen128-p5f-a200/checkpoint-1000" "$RUNS/gpen128-p5f-a200" "$RUNS/gpen128-p5c1000-init"
finetune_from "$RUNS/gpen128-p5c1000-init" "$RUNS/gpen128-p6fj-a300" 1500 300 2e-4 7 --random_flip \
  --random_jitter 0.04

# Phase 7: from phase 6's checkpoint-800, alpha 200, lr 2e-4, x-flips, jitter; checkpoint-800 ships.
start_folder "$RUNS/gpen128-p6fj-a300/checkpoint-800" "$RUNS/gpen128-p6fj-a300" "$RUNS/gpen128-p6j800-init"
finetune_from "$RUNS/gpen128-p6j800-init" "$RUNS/gpen128-p7j-a200" 1000 200 2e-4 8 --random_flip \
  --random_jitter 0.04

# Package: evaluate on the eval faces, write fp16 weights + model card to gpen_hf/assets/gpen-default.
python scripts/ship_default_model.py --run "$RUNS/gpen128-p7j-a200/checkpoint-800" \
  --eval_data "${EVAL:-/work/data/eval512}"
