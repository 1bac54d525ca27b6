#!/usr/bin/env python
"""Package a stage-2 run as the shipped default model: fp16 safetensors + model card with its evaluation.

    python scripts/ship_default_model.py --run /work/runs/gpen128 --eval_data /work/data/eval512

Evaluates the run's generator (EMA weights) on the eval faces with ``gpen_hf.evaluation`` (paper preset,
seed 0) in fp32 and with fp16-rounded weights, writes the fp16 weights to ``gpen_hf/assets/gpen-default``
only if the rounding moves no metric by more than ``--max_fp16_change`` (loading gives fp32 by default),
and writes the model card with the evaluation table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from gpen_hf import GPENModel, GPENPipeline
from gpen_hf.evaluation import evaluate

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="stage-2 output_dir (with generator/)")
    parser.add_argument("--eval_data", required=True, help="folder of aligned eval faces")
    parser.add_argument("--out", default=str(ROOT / "gpen_hf" / "assets" / "gpen-default"))
    parser.add_argument("--card_facts", default=str(ROOT / "training" / "configs" / "gpen-default-card.json"),
                        help="JSON with the training facts the card states (data, steps, time, hardware)")
    parser.add_argument("--max_fp16_change", type=float, default=0.002, help="largest allowed metric change")
    return parser.parse_args()


def restorer(model: GPENModel):
    pipe = GPENPipeline(model.eval())
    return lambda faces: pipe.restore_faces(faces, batch_size=4)


def main() -> None:
    args = parse_args()
    model = GPENModel.from_pretrained(args.run, subfolder="generator", torch_dtype=torch.float32)
    half = GPENModel.from_pretrained(args.run, subfolder="generator", torch_dtype=torch.float16).float()
    res = model.config.resolution
    start = time.perf_counter()
    result = evaluate(args.eval_data, {"GPEN (this model, fp32)": restorer(model),
                                       "GPEN (this model, fp16 weights)": restorer(half)},
                      resolution=res, preset="paper", seed=0)
    print(result.to_markdown(), f"\n(evaluated in {time.perf_counter() - start:.0f} s)")
    change = max(abs(result.mean("GPEN (this model, fp32)", m) - result.mean("GPEN (this model, fp16 weights)", m))
                 for m in result.metrics)
    if change > args.max_fp16_change:
        raise SystemExit(f"fp16 weights change a metric by {change:.4f} > {args.max_fp16_change}: not shipping fp16")
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    model.half().save_pretrained(out)
    facts = json.loads(Path(args.card_facts).read_text())
    table = result.to_markdown() + "\n" + result.paired_to_markdown("bicubic")
    (out / "README.md").write_text(model_card(model.float(), table, change, facts))
    print(f"wrote {out} (largest metric change from fp16 weights: {change:.5f})")


def model_card(model: GPENModel, table: str, fp16_change: float, facts: dict) -> str:
    cfg = model.config
    n_params = sum(p.numel() for p in model.parameters())
    phases = "\n".join(f"  {phase}" for phase in facts.get("stage2_phases", []))  # "N. ..." items under stage 2
    return f"""---
library_name: gpen-hf
pipeline_tag: image-to-image
license: other
license_name: research-only
tags:
- face-restoration
- gpen
- stylegan2
- blind-face-restoration
metrics:
- psnr
- ssim
- lpips
---

# GPEN {cfg.resolution}px — the default model of gpen-hf

A small GPEN (GAN Prior Embedded Network, Yang et al., CVPR 2021) trained from scratch on this project's
offline face set with both stages of the paper, on a 2-core CPU. It is what `GPENPipeline.from_pretrained()`,
`gpen-hf restore` and the Space load when no model is named.

- architecture: `GPENModel(resolution={cfg.resolution}, style_dim={cfg.style_dim}, n_mlp={cfg.n_mlp}, \
channel_multiplier={cfg.channel_multiplier}, narrow={cfg.narrow}, noise_mode="{cfg.noise_mode}")`, \
{n_params / 1e6:.2f} M parameters; weights stored in fp16 (loaded as fp32 unless `torch_dtype` says otherwise;
the rounding moved no evaluation metric by more than {fp16_change:.4f})
- data: {facts["data"]}
- stage 1 (StyleGAN2 prior): {facts["stage1"]}
- stage 2 (GPEN): {facts["stage2"]}
{phases}
- hardware and time: {facts["hardware"]}
- command lines: `training/configs/gpen-default-128.sh`; this card: `scripts/ship_default_model.py`

## Evaluation

`gpen-hf evaluate --data EVAL --preset paper --seed 0` on the 12 `eval` faces of the project's face set (never
trained on{facts.get("eval_note", "")}): each face is downscaled to {cfg.resolution} px and degraded with the paper's model (blur, downsampling
s in [10, 200] on a 1024-px scale, noise, JPEG 5–50), then restored. Identity = cosine similarity of face
descriptors (face-api.js/dlib ResNet) with the HQ face.

{table}
## Limits

{facts["limits"]}

## License

Trained on faces whose sources include non-commercial ones (FFHQ-derived images, CodeFormer and CelebA
examples; see the project's data README): research and demo use only.
"""


if __name__ == "__main__":
    main()
