"""``gpen-hf evaluate``: degrade aligned HQ faces with a fixed seed, restore, and tabulate the metrics."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gpen_hf.degradation import FIXED_DEGRADATIONS, PRESETS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="PSNR/SSIM/LPIPS/identity of a model and baselines on synthetically degraded aligned faces",
        description="Each HQ face i is degraded with parameters drawn from rng([seed, i]); the LQ input, bicubic "
        "and Lanczos resizing, a classical denoise+sharpen baseline and each model are measured against it.",
    )
    parser.add_argument("--model", action="append", metavar="[NAME=]PATH_OR_ID",
                        help="model folder or Hub id (repeatable; default: the shipped model)")
    parser.add_argument("--data", required=True, help="folder of aligned square HQ faces")
    parser.add_argument("--preset", default="paper", choices=[*PRESETS, *FIXED_DEGRADATIONS],
                        help="degradation: a sampling preset (paper, gfpgan) or a fixed one (moderate, severe; clean = none)")
    parser.add_argument("--task", choices=["restore", "sr"], default="restore",
                        help="sr: the paper's face super-resolution, pure ×--scale downsampling, bicubic back")
    parser.add_argument("--scale", type=int, default=4, help="downsampling factor of --task sr")
    parser.add_argument("--seed", type=int, default=0, help="seed of the degradations")
    parser.add_argument("--resolution", type=int, help="evaluation size (default: the first model's)")
    parser.add_argument("--metrics", default="psnr,ssim,lpips,identity", help="comma-separated metric names")
    parser.add_argument("--limit", type=int, help="only the first N faces")
    parser.add_argument("--baselines", default="all",
                        help='comma-separated rows besides the models: bicubic, Lanczos, classical; "all" (default) '
                        'or "none" (the LQ input is always measured; "none" is much faster on large sets)')
    parser.add_argument("--paired", metavar="ROW",
                        help='also compare every row with this one face by face (e.g. "bicubic"): mean difference '
                        '± standard error and the number of faces where it is better')
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--out", help="also write the markdown table here")
    parser.add_argument("--json", help="also write every per-face value here (JSON; EvaluationResult.from_json)")
    parser.set_defaults(func=run)


def named_model(spec: str) -> tuple[str, str]:
    """``NAME=PATH`` → (NAME, PATH); a bare path (or one that exists with ``=`` in it) is named by its folder."""
    if "=" in spec and not Path(spec).exists():
        name, path = spec.split("=", 1)
        return name, path
    return Path(spec).name or spec, spec


def run(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate
    from ..pipeline import GPENPipeline

    try:
        specs = [named_model(s) for s in (args.model or [])]
        pipelines = {name: GPENPipeline.from_pretrained(path) for name, path in specs}
        if not pipelines:
            pipelines = {"GPEN (shipped model)": GPENPipeline.from_pretrained(None)}
        resolutions = {p.resolution for p in pipelines.values()}
        resolution = args.resolution or next(iter(pipelines.values())).resolution
        if args.resolution is None and len(resolutions) > 1:
            raise ValueError(f"models have different resolutions {sorted(resolutions)}; pass --resolution")
        restorers = {
            name: (lambda faces, p=p: p.restore_faces(_resize(faces, p.resolution), batch_size=args.batch_size))
            for name, p in pipelines.items()
        }
        if args.task == "sr" and args.scale < 2:
            raise ValueError(f"--scale: --task sr needs a downsampling factor of at least 2, got {args.scale}")
        preset = f"sr{args.scale}" if args.task == "sr" else args.preset
        result = evaluate(args.data, restorers, resolution, preset=preset, seed=args.seed,
                          metrics=tuple(m.strip() for m in args.metrics.split(",") if m.strip()), limit=args.limit,
                          baselines=_baselines(args.baselines))
        table = result.to_markdown()
        if args.paired:
            table += "\n" + result.paired_to_markdown(args.paired)
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"gpen-hf evaluate: error: {err}", file=sys.stderr)
        return 1
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(result.to_json())
    return 0


def _baselines(spec: str) -> tuple[str, ...]:
    from ..evaluation import BASELINES

    if spec.strip().lower() == "all":
        return BASELINES
    if spec.strip().lower() == "none":
        return ()
    by_name = {name.lower(): name for name in BASELINES}
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n.lower() not in by_name]
    if unknown:
        raise ValueError(f"--baselines: unknown {unknown}; choose from {list(BASELINES)[1:]}, 'all' or 'none'")
    return tuple(by_name[n.lower()] for n in names)


def _resize(faces, size: int):
    """The evaluation's faces at a model's resolution: bicubic both ways, as evaluate has always resized (so
    numbers stay comparable across versions)."""
    import cv2

    from ..faces.align import resize_face

    return [resize_face(f, size, interpolation=cv2.INTER_CUBIC) for f in faces]
