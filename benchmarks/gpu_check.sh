#!/usr/bin/env bash
# GPU checks in one short run (what was measured on a lent H200, see benchmarks/RESULTS.md and ABLATIONS.md):
#   1. forward speed on CUDA: reference vs fast path, fp32 / bf16 / fp16 autocast, GPEN-512 and -1024, batch 1 and 8
#   2. the paper's ablations at 64 px (benchmarks/ablations.py), trained on the GPU, evaluated there; the five
#      generators come back as fp16 safetensors
#   3. LPIPS change of bf16 and fp16 autocast against fp32 with the shipped model on real faces
#   4. stage-2 training throughput at 128 px (the shipped architecture), fp32 vs bf16 autocast
# Usage: TRAIN64=faces64/ EVAL=eval_faces/ OUT=results/ bash benchmarks/gpu_check.sh
# Each part has its own time limit so that a slow part cannot starve the others.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
: "${TRAIN64:?aligned training faces}" "${EVAL:?aligned eval faces}" "${OUT:?output folder}"
ABL_SECONDS=${ABL_SECONDS:-20}
ARCH="--narrow 0.25 --channel_multiplier 1 --style_dim 256 --n_mlp 8"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, diffusers, accelerate; print('torch', torch.__version__, 'diffusers', diffusers.__version__,
'accelerate', accelerate.__version__, 'cuda', torch.cuda.is_available())"

echo "== 1. forward speed"
timeout 100 python3 benchmarks/bench_forward.py --device cuda --resolutions 512 1024 --batch 1 8 --bf16 --fp16 \
  --no-authors --repeats 5
echo "== 2. ablations at 64 px"
timeout 320 python3 benchmarks/ablations.py --train_data_dir "$TRAIN64" --output_dir /tmp/ablations64 \
  --resolution 64 --arch "$ARCH" --train_batch_size 32 --dataloader_num_workers 6 \
  --calibrate_seconds "$ABL_SECONDS" --eval_data "$EVAL"
python3 - "$OUT" <<'EOF'
import sys
from pathlib import Path
from safetensors.torch import load_file, save_file
root, out = Path("/tmp/ablations64"), Path(sys.argv[1])
for name in ("full", "add", "none", "freeze_decoder", "no_prior"):
    weights = root / name / "generator" / "diffusion_pytorch_model.safetensors"
    if not weights.is_file():
        continue
    tensors = {k: v.half() if v.is_floating_point() else v for k, v in load_file(weights).items()}
    save_file(tensors, out / f"{name}.fp16.safetensors")
EOF
tar czf "$OUT/ablations64.tgz" -C /tmp/ablations64 --exclude='checkpoint-*' --exclude='*.safetensors' . 2>/dev/null
echo "== 3. reduced precision vs fp32, shipped model, real faces"
for dtype in bf16 fp16; do
  timeout 40 python3 benchmarks/bench_inference.py lpips --device cuda --resolution 128 --faces 12 \
    --faces-dir "$EVAL" --autocast-dtype "$dtype"
done
echo "== 4. training throughput at 128 px"
timeout 70 python3 benchmarks/bench_train.py --stages finetune --resolutions 128 --precisions no bf16 --batch_size 32 32 --workers 6 \
  --steps 20 --model "$ARCH"
