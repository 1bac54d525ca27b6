#!/usr/bin/env python
"""Evaluate a stage-2 run against the shipped default model and, with ``--write``, ship it: fp16 weights +
model card.

    python scripts/ship_default_model.py --model /work/runs/gpen-ffhq-128/generator \
        --ffhq_eval ../shared/data/ffhq/eval/256 --faces_eval /work/data/eval512 \
        --card_facts training/configs/gpen-ffhq-128-card.json --tables /work/runs/eval-new [--write]

The suite (every table also written to ``--tables``): on the FFHQ eval faces the fixed ``moderate``,
``severe`` and ``clean`` degradations, the ``paper`` preset and the paper's face super-resolution ×4/×8/×16;
on the project's 12 eval faces ``paper``, ``moderate`` and ``severe``. All at the model's resolution, seed 0,
with the baselines and each face paired against the previous model. Then the issue's targets, met or not.
Which model ships is decided by a person who has also looked at the contact sheets
(``scripts/contact_sheets.py``); ``--write`` replaces ``gpen_hf/assets/gpen-default`` (fp16 weights, only if
the rounding moves no metric by more than ``--max_fp16_change``; loading gives fp32 by default).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from gpen_hf import GPENModel, GPENPipeline
from gpen_hf.evaluation import BASELINES, EvaluationResult, evaluate
from gpen_hf.training.progress import SUMMARY_FILE, read_summary

ROOT = Path(__file__).resolve().parents[1]
NEW, PREVIOUS = "GPEN (this model)", "GPEN (previous default)"
#: (table name, split, preset, baselines): the suite, in the order the card lists it
SUITE = [
    ("ffhq-moderate", "ffhq", "moderate", BASELINES),
    ("ffhq-severe", "ffhq", "severe", BASELINES),
    ("ffhq-clean", "ffhq", "clean", ()),
    ("ffhq-paper", "ffhq", "paper", BASELINES),
    ("ffhq-sr4", "ffhq", "sr4", ("bicubic",)),
    ("ffhq-sr8", "ffhq", "sr8", ("bicubic",)),
    ("ffhq-sr16", "ffhq", "sr16", ("bicubic",)),
    ("faces-paper", "faces", "paper", BASELINES),
    ("faces-moderate", "faces", "moderate", BASELINES),
    ("faces-severe", "faces", "severe", BASELINES),
]
#: the issue's LPIPS targets at the model's resolution (FFHQ eval faces)
LPIPS_TARGETS = {"ffhq-moderate": 0.25, "ffhq-severe": 0.32, "ffhq-clean": 0.08}
#: the weighted generator-loss terms stage 2 logs (``train/share_*`` in its summary), as the paper writes them
LOSS_TERMS = {"adv": "L_A", "content": "α·L_C", "fm": "β·L_F", "identity": "identity"}
PSNR_SLACK = 0.5  # dB the restored face may lose against the degraded input


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True,
                        help="the model to ship: a stage-2 run's generator/ (the run's summary.json beside it)")
    parser.add_argument("--previous", default=str(ROOT / "gpen_hf" / "assets" / "gpen-default"),
                        help="the model it would replace (default: the shipped one)")
    parser.add_argument("--ffhq_eval", required=True, help="folder of aligned FFHQ eval faces")
    parser.add_argument("--faces_eval", required=True, help="folder of the project's aligned eval faces")
    parser.add_argument("--card_facts", required=True,
                        help="JSON with the training facts the card states (data, stages, compute, limits, licence)")
    parser.add_argument("--tables", type=Path, required=True, help="folder for the evaluation tables")
    parser.add_argument("--out", type=Path, default=ROOT / "gpen_hf" / "assets" / "gpen-default")
    parser.add_argument("--write", action="store_true", help="ship: write the fp16 weights and the card to --out")
    parser.add_argument("--limit", type=int, help="only the first N faces of each split (smoke runs)")
    parser.add_argument("--max_fp16_change", type=float, default=0.002, help="largest allowed metric change")
    return parser.parse_args(argv)


def restorer(model: GPENModel):
    pipe = GPENPipeline(model.eval())
    return lambda faces: pipe.restore_faces(faces, batch_size=8)


def run_suite(args: argparse.Namespace, new: GPENModel, previous: GPENModel) -> dict[str, EvaluationResult]:
    """Every table of :data:`SUITE`, printed and written to ``args.tables`` as it is measured."""
    data = {"ffhq": args.ffhq_eval, "faces": args.faces_eval}
    restorers = {PREVIOUS: restorer(previous), NEW: restorer(new)}
    args.tables.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, split, preset, baselines in SUITE:
        start = time.perf_counter()
        result = evaluate(data[split], restorers, new.config.resolution, preset=preset, seed=0,
                          limit=args.limit, baselines=baselines)
        table = result.to_markdown() + "\n" + result.paired_to_markdown(PREVIOUS)
        (args.tables / f"{name}.md").write_text(table)
        print(f"## {name} ({time.perf_counter() - start:.0f} s)\n\n{table}", flush=True)
        results[name] = result
    return results


def targets(results: dict[str, EvaluationResult]) -> list[tuple[str, bool]]:
    """The issue's targets, each as (what was measured, met?)."""
    checks = []
    for name, bound in LPIPS_TARGETS.items():
        lpips = results[name].mean(NEW, "lpips")
        checks.append((f"{name}: LPIPS {lpips:.3f} ≤ {bound}", lpips <= bound))
    for name in ("ffhq-moderate", "ffhq-severe"):
        psnr, lq = results[name].mean(NEW, "psnr"), results[name].mean("LQ input", "psnr")
        checks.append((f"{name}: PSNR {psnr:.2f} ≥ LQ input {lq:.2f} − {PSNR_SLACK}", psnr >= lq - PSNR_SLACK))
    for name in ("ffhq-paper", "faces-paper"):
        result = results[name]
        rows = [m for m in result.values if m not in (NEW, PREVIOUS)]
        for metric, lower_is_better in (("lpips", True), ("identity", False)):
            values = [result.mean(m, metric) for m in rows]
            best = min(values) if lower_is_better else max(values)
            value = result.mean(NEW, metric)
            ok = value < best if lower_is_better else value > best
            checks.append((f"{name}: {metric} {value:.3f} better than every baseline (best {best:.3f})", ok))
    return checks


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    facts = json.loads(Path(args.card_facts).read_text())
    losses = loss_make_up(Path(args.model).parent)
    new = GPENModel.from_pretrained(args.model, torch_dtype=torch.float32).eval()
    previous = GPENModel.from_pretrained(args.previous, torch_dtype=torch.float32).eval()
    if previous.config.resolution != new.config.resolution:
        raise SystemExit(f"--previous restores at {previous.config.resolution} px, --model at "
                         f"{new.config.resolution} px: the suite compares them at one size")
    half = GPENModel.from_config(new.config)
    half.load_state_dict({k: v.half().float() for k, v in new.state_dict().items()})
    results = run_suite(args, new, previous)
    fp32 = results["ffhq-moderate"]  # the same faces, degradations and fp32 model as the rounding check's
    rounding = evaluate(args.ffhq_eval, {NEW: restorer(half)}, new.config.resolution, preset="moderate", seed=0,
                        limit=args.limit, baselines=())
    change = max(abs(fp32.mean(NEW, m) - rounding.mean(NEW, m)) for m in rounding.metrics)
    print(f"fp16 weights change a metric by at most {change:.5f}")
    checks = targets(results)
    report = "\n".join(f"- {'met' if ok else 'MISSED'}: {what}" for what, ok in checks)
    (args.tables / "targets.md").write_text(report + "\n")
    print(f"## targets\n\n{report}")
    if not args.write:
        print("not written (no --write): look at the contact sheets, then ship with --write")
        return
    if change > args.max_fp16_change:
        raise SystemExit(f"fp16 weights change a metric by {change:.4f} > {args.max_fp16_change}: not shipping fp16")
    staging = args.out.with_name(args.out.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    new.half().save_pretrained(staging)
    (staging / "README.md").write_text(model_card(new.float(), facts, losses, results, report, change))
    shutil.rmtree(args.out, ignore_errors=True)
    staging.rename(args.out)
    print(f"wrote {args.out} (largest metric change from fp16 weights: {change:.5f})")


TABLE_TITLES = {
    "ffhq-moderate": "FFHQ eval faces, moderate (Gaussian blur σ 1.5, area /4, noise σ 8, JPEG 40)",
    "ffhq-severe": "FFHQ eval faces, severe (blur σ 3, /8, noise σ 12, JPEG 25)",
    "ffhq-clean": "FFHQ eval faces, clean (the HQ face itself goes in)",
    "ffhq-paper": "FFHQ eval faces, the paper's degradation preset",
    "ffhq-sr4": "FFHQ eval faces, face super-resolution ×4 (pure downsampling, bicubic back)",
    "ffhq-sr8": "FFHQ eval faces, face super-resolution ×8",
    "ffhq-sr16": "FFHQ eval faces, face super-resolution ×16",
    "faces-paper": "The project's 12 eval faces, the paper's preset",
    "faces-moderate": "The project's 12 eval faces, moderate",
    "faces-severe": "The project's 12 eval faces, severe",
}


def loss_make_up(run_dir: Path) -> str:
    """The card's line on the generator loss at the end of the run: each weighted term's share (running means
    over ~100 steps) from the ``summary.json`` stage 2 wrote in ``run_dir``."""
    if not (run_dir / SUMMARY_FILE).is_file():
        raise SystemExit(f"{run_dir / SUMMARY_FILE} not found: --model must be the generator/ folder of a "
                         "stage-2 run (training/finetune.py writes the summary the card quotes)")
    summary = read_summary(run_dir)
    shares = [f"{name} {100 * summary[f'train/share_{key}']:.0f} %" for key, name in LOSS_TERMS.items()
              if f"train/share_{key}" in summary]
    if not shares:
        raise SystemExit(f"{run_dir / SUMMARY_FILE} has no train/share_* terms: not a stage-2 run's summary")
    return f"at step {summary['step']:,}: " + ", ".join(shares)


def model_card(model: GPENModel, facts: dict, losses: str, results: dict[str, EvaluationResult], report: str,
               fp16_change: float) -> str:
    cfg = model.config
    n_params = sum(p.numel() for p in model.parameters())
    tables = "\n".join(
        f"### {TABLE_TITLES[name]}\n\n{r.to_markdown()}\n{r.paired_to_markdown(PREVIOUS)}"
        for name, r in results.items())
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

{facts["summary"]}

- architecture: `GPENModel(resolution={cfg.resolution}, style_dim={cfg.style_dim}, n_mlp={cfg.n_mlp}, \
channel_multiplier={cfg.channel_multiplier}, narrow={cfg.narrow}, noise_mode="{cfg.noise_mode}")`, \
{n_params / 1e6:.2f} M parameters; weights stored in fp16 (loaded as fp32 unless `torch_dtype` says otherwise;
the rounding moved no metric of the moderate FFHQ table by more than {fp16_change:.4f})
- data: {facts["data"]}
- stage 1 (StyleGAN2 prior): {facts["stage1"]}
- stage 2 (GPEN): {facts["stage2"]}
- each weighted term's share of the generator loss at the end of stage 2: {losses}
- hardware and compute: {facts["hardware"]}
- command lines: `{facts["commands"]}`; this card: `scripts/ship_default_model.py`

## Evaluation

Never trained on: the 100 FFHQ `eval` faces and the project's 12 `eval` faces. Each face is area-downscaled to
{cfg.resolution} px, degraded with seed 0 (face i with the parameters of rng([0, i])), restored, and measured
against the HQ face: PSNR, SSIM, LPIPS (AlexNet) and identity (cosine similarity of the shipped face
descriptor). "Previous default" is the model this one replaced; the paired tables compare each row with it
face by face (mean difference ± standard error, and on how many faces the row is better). The tables come
from `scripts/ship_default_model.py`; one of them alone is, e.g., `gpen-hf evaluate --model previous=OLD
--model new=NEW --data ../shared/data/ffhq/eval/256 --preset moderate --seed 0 --paired previous` (`--task sr
--scale 4` for super-resolution).

The issue's targets:

{report}

{tables}
## Limits

{facts["limits"]}

## License

{facts["license"]}
"""


if __name__ == "__main__":
    main()
