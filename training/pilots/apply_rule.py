#!/usr/bin/env python
"""Rules 1 and 2 of the stage-2 pilots (training/README.md, "Stage-2 pilots"), from the pilots' evaluation.

    python training/pilots/apply_rule.py /work/runs/pilots [--reference a] [--out /work/runs/pilots/rule.md]

Reads ``eval-moderate.json`` and ``eval-severe.json`` (``gpen-hf evaluate --json``) from the pilots' folder.
1. A pilot is eligible when its PSNR is at least the degraded input's - 0.5 dB on both.
2. The reference (the paper's loss) is kept unless an eligible pilot has a lower LPIPS on both, each by more
   than twice the paired standard error; among those, the lowest sum of the two LPIPS wins.
Rule 3 (no worse eyes, mouths or teeth on the contact sheets) is a person's: this script only prints the
candidate, and the person writes the letter into ``CHOSEN``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from gpen_hf.evaluation import BASELINES, EvaluationResult

SPLITS = ("moderate", "severe")
PSNR_SLACK = 0.5  # dB under the degraded input's PSNR that a pilot may lose
SEM_FACTOR = 2.0  # an LPIPS gain counts when larger than this many paired standard errors


@dataclass
class PilotVerdict:
    """One pilot's numbers under rules 1 and 2, per split."""

    name: str
    psnr_over_lq: dict[str, float]
    lpips: dict[str, float]
    lpips_vs_reference: dict[str, tuple[float, float]]  # (mean difference, its standard error)
    eligible: bool
    beats_reference: bool


def judge(results: dict[str, EvaluationResult], reference: str) -> tuple[list[PilotVerdict], str]:
    """Every pilot's verdict and the letter that rules 1 and 2 pick (``reference`` unless one beats it)."""
    missing = [split for split in SPLITS if split not in results]
    if missing:
        raise ValueError(f"no evaluation of {missing}; expected {list(SPLITS)}")
    pilots = [row for row in results[SPLITS[0]].values if row not in BASELINES]
    if reference not in pilots:
        raise ValueError(f"no pilot {reference!r} to compare with; pilots: {pilots}")
    verdicts = []
    for name in pilots:
        psnr = {s: results[s].mean(name, "psnr") - results[s].mean("LQ input", "psnr") for s in SPLITS}
        lpips = {s: results[s].mean(name, "lpips") for s in SPLITS}
        vs = {s: results[s].paired(name, reference, "lpips")[:2] for s in SPLITS}
        eligible = all(psnr[s] >= -PSNR_SLACK for s in SPLITS)
        beats = name != reference and all(mean < -SEM_FACTOR * sem for mean, sem in vs.values())
        verdicts.append(PilotVerdict(name, psnr, lpips, vs, eligible, beats))
    winners = [v for v in verdicts if v.eligible and v.beats_reference]
    chosen = min(winners, key=lambda v: sum(v.lpips.values())).name if winners else reference
    return verdicts, chosen


def to_markdown(verdicts: list[PilotVerdict], chosen: str, reference: str) -> str:
    lines = [("| pilot | PSNR − LQ (moderate) | PSNR − LQ (severe) | eligible | LPIPS (moderate) | LPIPS (severe) "
             f"| LPIPS − {reference} (moderate) | LPIPS − {reference} (severe) | beats {reference} |"),
             "|---" * 9 + "|"]
    for v in verdicts:
        diffs = [f"{v.lpips_vs_reference[s][0]:+.4f} ± {v.lpips_vs_reference[s][1]:.4f}" for s in SPLITS]
        lines.append(f"| {v.name} | {v.psnr_over_lq['moderate']:+.2f} dB | {v.psnr_over_lq['severe']:+.2f} dB | "
                     f"{'yes' if v.eligible else 'no'} | {v.lpips['moderate']:.4f} | {v.lpips['severe']:.4f} | "
                     f"{diffs[0]} | {diffs[1]} | {'yes' if v.beats_reference else '–'} |")
    lines += ["", (f"Rules 1 and 2 pick **{chosen}**. Rule 3: compare its contact sheets with {reference}'s "
              "(eyes, mouths, teeth) before writing the letter into CHOSEN.")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pilots_dir", type=Path, help="folder with eval-moderate.json and eval-severe.json")
    parser.add_argument("--reference", default="a", help="the pilot kept unless another beats it (default: a)")
    parser.add_argument("--out", type=Path, help="also write the verdict table here (markdown)")
    args = parser.parse_args(argv)
    try:
        results = {}
        for split in SPLITS:
            path = args.pilots_dir / f"eval-{split}.json"
            if not path.is_file():
                raise ValueError(f"{path}: not found; expected `gpen-hf evaluate --json` output of the {split} split")
            results[split] = EvaluationResult.from_json(path.read_text())
        verdicts, chosen = judge(results, args.reference)
    except (ValueError, KeyError) as err:
        print(f"apply_rule: error: {err}", file=sys.stderr)
        return 1
    table = to_markdown(verdicts, chosen, args.reference)
    print(table)
    if args.out:
        args.out.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
