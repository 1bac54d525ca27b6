"""``gpen-hf convert ORIGINAL.pth OUTPUT_DIR``: official release file → ``from_pretrained`` folder."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert an official GPEN .pth into a from_pretrained folder",
        description="Convert the authors' GPEN-BFR-*.pth (config inferred from tensor shapes) into config.json + "
        "safetensors + model card, loadable with GPENModel.from_pretrained(OUTPUT_DIR).",
    )
    parser.add_argument("checkpoint", help="official generator file, e.g. GPEN-BFR-512.pth")
    parser.add_argument("output_dir", help="folder to write (created if missing)")
    parser.add_argument("--discriminator", metavar="D.pth", help="official discriminator, e.g. GPEN-BFR-512-D.pth")
    parser.add_argument("--variant", choices=["fp16", "bf16"], help="also cast and save as this dtype variant")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..convert import convert_original_checkpoint
    from ..models import OriginalCheckpointError

    try:
        out = convert_original_checkpoint(args.checkpoint, args.output_dir, args.discriminator, args.variant)
    except (OriginalCheckpointError, FileNotFoundError, ValueError) as err:
        print(f"gpen-hf convert: error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0
