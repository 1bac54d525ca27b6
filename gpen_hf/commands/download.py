"""``gpen-hf download NAME...``: fetch, verify and convert the authors' weights ahead of use (e.g. before going
offline); afterwards ``--model NAME`` loads them with ``HF_HUB_OFFLINE=1``."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..registry import REGISTRY

    parser = subparsers.add_parser(
        "download", help="fetch the authors' weights by name, ahead of use",
        description="Download (through the Hugging Face Hub cache), check size and sha256, and convert each "
        "named file once. Names: see `gpen-hf models`.")
    parser.add_argument("names", nargs="+", metavar="NAME", choices=list(REGISTRY), help=", ".join(REGISTRY))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..hub import ModelSourceError, converted_folder
    from ..registry import REGISTRY

    failed = 0
    for name in args.names:
        entry = REGISTRY[name]
        try:
            where = converted_folder(entry)
        except (ModelSourceError, ValueError) as err:
            print(f"gpen-hf download: {err}", file=sys.stderr)
            failed += 1
            continue
        check = "sha256" if entry.full_digest else f"size and sha256 prefix {entry.sha256}"
        print(f"{name}: ok ({check} checked) -> {where}")
    return 1 if failed else 0
