#!/usr/bin/env bash
# Phase 7 of the default model, GPU part: three stage-2 runs side by side on one GPU, from p6j checkpoint 800
# (see gpen-default-128.sh), with 4x the batch of the CPU runs. What varies is the content weight alpha and the
# strength of the alignment-like jitter of the HQ faces. The generators of the last two checkpoints of each
# run come back in fp16 (9 MB each) for evaluation on the CPU machine.
#
# Usage: INIT=start DATA=faces RUNS=work_dir OUT=results bash training/configs/gpen-default-p7-gpu.sh
#   INIT holds generator/ and discriminator/ (fp16 weights are widened to fp32 first); DATA the 152 training
#   faces (shipped to the GPU machine as 256-px lossless WebP to fit its 64 MiB upload limit).
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
: "${INIT:?start folder}" "${DATA:?training faces}" "${RUNS:?work folder}" "${OUT:?results folder}"
STEPS=${STEPS:-1200} SAVE=${SAVE:-300} BATCH=${BATCH:-32} WORKERS=${WORKERS:-4}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-420}  # each run is stopped after this long (the device's time is short)
mkdir -p "$RUNS" "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader

python3 - "$INIT" "$RUNS/init" <<'EOF'
import shutil, sys
from pathlib import Path
from safetensors.torch import load_file, save_file
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
for sub in ("generator", "discriminator"):
    (dst / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(src / sub / "config.json", dst / sub / "config.json")
    tensors = load_file(src / sub / "diffusion_pytorch_model.safetensors")
    save_file({k: v.float() if v.is_floating_point() else v for k, v in tensors.items()},
              dst / sub / "diffusion_pytorch_model.safetensors")
EOF

train() {  # name alpha jitter
  timeout "$SECONDS_PER_RUN" python3 -m accelerate.commands.launch --num_processes 1 --num_machines 1 \
    --mixed_precision no --dynamo_backend no training/finetune.py --pretrained_model_name_or_path "$RUNS/init" \
    --train_data_dir "$DATA" --output_dir "$RUNS/$1" --resolution 128 --train_batch_size "$BATCH" \
    --max_train_steps "$STEPS" --alpha "$2" --learning_rate 2e-4 --lr_scheduler cosine --lr_warmup_steps 50 \
    --use_ema --ema_decay 0.998 --checkpointing_steps "$SAVE" --checkpoints_total_limit 8 --validation_steps 0 \
    --report_to none --seed 9 --mixed_precision no --num_threads 2 --dataloader_num_workers "$WORKERS" \
    --degradation_preset paper --random_flip --random_jitter "$3" --resume_from_checkpoint latest \
    > "$RUNS/$1.log" 2>&1
  echo "$1 exit $? $(grep -o 'steps: *[0-9]*%[^,]*' "$RUNS/$1.log" | tail -1)"
}
train g-a200-j04 200 0.04 &
train g-a200-j08 200 0.08 &
train g-a120-j08 120 0.08 &
wait

python3 - "$RUNS" "$OUT" <<'EOF'
import shutil, sys
from pathlib import Path
from safetensors.torch import load_file, save_file
runs, out = Path(sys.argv[1]), Path(sys.argv[2])
for run in sorted(p for p in runs.iterdir() if p.name.startswith("g-")):
    checkpoints = sorted(run.glob("checkpoint-*/generator"), key=lambda p: int(p.parent.name.split("-")[1]))
    for generator in checkpoints[-2:]:
        step = generator.parent.name.split("-")[1]
        tensors = load_file(generator / "diffusion_pytorch_model.safetensors")
        save_file({k: v.half() if v.is_floating_point() else v for k, v in tensors.items()},
                  out / f"{run.name}_{step}.fp16.safetensors")
        shutil.copy(generator / "config.json", out / "config.json")
        print("saved", run.name, step)
EOF
