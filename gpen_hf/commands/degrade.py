"""``gpen-hf degrade``: apply the paper's synthetic degradation to images (for demos, data checks, the lab).

Parameters are drawn from ``--preset`` with ``--seed`` (``--preset none`` starts from no degradation),
then any of ``--blur/--noise/--jpeg/--scale`` overrides the drawn value. The parameters used are printed
as JSON so a result can be reproduced.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

from gpen_hf.degradation import PRESETS
from gpen_hf.image_io import IMAGE_EXTENSIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("degrade", help="synthetically degrade images (blur, downsample, noise, JPEG)",
                                   description="LQ = JPEG_q((HQ * k) downsampled by s + noise), resized back.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image file(s)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output file (one input) or folder (several inputs, or a path without image suffix)")
    parser.add_argument("--preset", default="paper", choices=[*PRESETS, "none"],
                        help="where random parameters come from (default paper; none = identity)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed -> identical output)")
    parser.add_argument("--resolution", type=int, default=None,
                        help="face size the preset's pixel ranges are scaled to (default: the image's width)")
    parser.add_argument("--blur", default=None, metavar="SPEC",
                        help="none | iso:SIGMA | aniso:SX,SY,THETA_DEG | motion:LENGTH,ANGLE_DEG")
    parser.add_argument("--noise", type=float, default=None, help="Gaussian noise sigma on the 0-255 scale")
    parser.add_argument("--jpeg", type=int, default=None, help="JPEG quality 1-100 (0 = no JPEG)")
    parser.add_argument("--scale", type=float, default=None, help="downsampling factor s (e.g. 4 or 50)")
    parser.add_argument("--no-upsample", action="store_true", help="save the small LQ instead of resizing it back")
    parser.set_defaults(func=run)


def parse_blur(spec: str) -> dict[str, object]:
    """Turn a ``--blur`` spec into DegradationParams fields."""
    kind, _, values = spec.partition(":")
    nums = [float(v) for v in values.split(",") if v.strip()] if values else []
    expected = {"none": 0, "iso": 1, "aniso": 3, "motion": 2}
    if kind not in expected or len(nums) != expected[kind]:
        raise ValueError(f"bad --blur {spec!r}: expected none, iso:SIGMA, aniso:SX,SY,THETA_DEG or motion:LENGTH,ANGLE")
    if kind == "iso":
        return {"blur": "iso", "sigma_x": nums[0], "sigma_y": nums[0], "kernel_size": _size_for(nums[0])}
    if kind == "aniso":
        return {"blur": "aniso", "sigma_x": nums[0], "sigma_y": nums[1], "theta": math.radians(nums[2]),
                "kernel_size": _size_for(max(nums[0], nums[1]))}
    if kind == "motion":
        return {"blur": "motion", "motion_length": nums[0], "motion_angle": nums[1]}
    return {"blur": "none"}


def _size_for(sigma: float) -> int:
    return 2 * math.ceil(3 * sigma) + 1


def _targets(inputs: list[str], output: str) -> list[tuple[Path, Path]]:
    out = Path(output)
    if len(inputs) == 1 and out.suffix.lower() in IMAGE_EXTENSIONS:
        return [(Path(inputs[0]), out)]
    return [(Path(i), out / (Path(i).stem + ".png")) for i in inputs]


def run(args: argparse.Namespace) -> int:
    from gpen_hf.degradation import DegradationParams, degrade, sample, with_overrides
    from gpen_hf.image_io import ImageLoadError, load_image, save_image

    try:
        blur = parse_blur(args.blur) if args.blur else {}
    except ValueError as err:
        print(f"gpen-hf degrade: {err}", file=sys.stderr)
        return 2
    failed = 0
    for index, (source, target) in enumerate(_targets(args.inputs, args.output)):
        try:
            loaded = load_image(source)
            resolution = args.resolution or loaded.rgb.shape[1]
            seed = args.seed + index
            params = (DegradationParams(seed=seed) if args.preset == "none"
                      else sample(seed, args.preset, resolution=resolution))
            params = with_overrides(params, noise_sigma=args.noise, scale=args.scale, **blur)
            if args.jpeg is not None:
                params = replace(params, jpeg_quality=args.jpeg or None)
            if args.no_upsample:
                params = replace(params, upsample=False)
            lq = degrade(loaded.rgb, params)
        except (ImageLoadError, ValueError) as err:
            print(f"FAILED {source}: {err}", file=sys.stderr)
            failed += 1
            continue
        save_image(target, lq)
        print(f"{source} -> {target} {json.dumps(params.to_dict())}")
    return 1 if failed else 0

