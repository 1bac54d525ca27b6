#!/usr/bin/env bash
# Stage-2 pilots of the successor model (issue #20), run once the 128-px prior exists; they fix the long
# run's settings (training/configs/gpen-ffhq-128.sh) and use training faces only. The pilots train on 792 clean
# faces (ffhq/train/256 but its last 100 by name, + the 152 `train` faces of ../shared/data/faces) and are
# judged on those last 100 (`/work/data/pilot-val`), which no pilot trains on. The rule, fixed before they run,
# is in training/README.md ("Stage-2 pilots").
#   (a) the paper's loss: alpha 1, beta 0.02, lr 2e-3      (b) the same at lr 5e-4
#   (c) alpha 10                                           (d) (a) + identity loss 1 (the shipped descriptor)
#   (their options: gpen-ffhq-128-stage2-settings.sh)
# Smoke run at toy size: PRIOR=/work/runs/prior64/checkpoint-N RES=64 STEPS=2 BATCH=2 LIMIT=4 OUT=/tmp/pilots
set -euo pipefail
SHARED=${SHARED:-../shared}
RUNS=${RUNS:-/work/runs}
DATA=${DATA:-/work/data}
PRIOR=${PRIOR:-$RUNS/prior128}
OUT=${OUT:-$RUNS/pilots}
RES=${RES:-128}
STEPS=${STEPS:-600}
BATCH=${BATCH:-8}
THREADS=${THREADS:-2}
LIMIT=${LIMIT:-100}

# The held-out judge: the last 100 of ffhq/train/256 by name; the pilots' training faces: the others.
mkdir -p "$DATA/pilot-train256" "$DATA/pilot-val"
mapfile -t FFHQ256 < <(find "$(realpath "$SHARED/data/ffhq/train/256")" -maxdepth 1 -type f | sort)
for f in "${FFHQ256[@]:0:${#FFHQ256[@]}-100}"; do ln -sf "$f" "$DATA/pilot-train256/"; done
for f in "${FFHQ256[@]: -100}"; do ln -sf "$f" "$DATA/pilot-val/"; done

pilot() {  # NAME [options...]
  local name=$1
  shift
  python training/finetune.py --pretrained_prior "$PRIOR" \
    --train_data_dir "$DATA/pilot-train256" "$SHARED/data/faces/MANIFEST.csv" \
    --manifest_filter split=train kind=aligned_face --output_dir "$OUT/$name" --resolution "$RES" \
    --train_batch_size "$BATCH" --max_train_steps "$STEPS" --r1_gamma 0.2 --r1_every 16 --use_ema \
    --ema_decay 0.998 --degradation_preset paper --random_flip --checkpointing_steps 200 \
    --validation_steps "$STEPS" --validation_data_dir "$DATA/pilot-val" --report_to tensorboard --seed 0 \
    --mixed_precision no --num_threads "$THREADS" --dataloader_num_workers 1 --resume_from_checkpoint latest "$@"
}
. training/pilots/gpen-ffhq-128-stage2-settings.sh
for name in a b c d; do
  # shellcheck disable=SC2086  # the settings are several options
  pilot "$name" ${PILOT[$name]}
done

MODELS=()
for name in a b c d; do MODELS+=(--model "$name=$OUT/$name/generator"); done
for preset in moderate severe clean; do
  gpen-hf evaluate "${MODELS[@]}" --data "$DATA/pilot-val" --preset "$preset" --seed 0 --baselines none \
    --limit "$LIMIT" --paired a --out "$OUT/eval-$preset.md" --json "$OUT/eval-$preset.json"
done
python training/pilots/apply_rule.py "$OUT" --out "$OUT/rule.md"  # rules 1 and 2; rule 3 is the sheets
python scripts/contact_sheets.py "${MODELS[@]}" --eval_data "$DATA/pilot-val" --out "$OUT/sheets"
