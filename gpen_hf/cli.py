"""The ``gpen-hf`` command line: one subcommand per module in :mod:`gpen_hf.commands`.

Each command module exposes ``register(subparsers)`` which adds its parser and sets ``func``
(a callable taking the parsed ``argparse.Namespace`` and returning an exit code).
Modules are imported lazily so ``gpen-hf convert`` does not pay for OpenCV or Gradio.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: subcommand name -> module in gpen_hf.commands
COMMANDS: dict[str, str] = {
    "restore": "restore",
    "restore-video": "restore_video",
    "degrade": "degrade",
    "convert": "convert",
    "evaluate": "evaluate",
    "export-onnx": "export_onnx",
    "models": "models",
    "download": "download",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpen-hf", description="GPEN blind face restoration: restore, degrade, evaluate, convert, export; the authors' "
        "weights by name (models, download)."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = [a for a in (argv or []) if not a.startswith("-")][:1]
    for name, module in COMMANDS.items():
        # Import only the module that runs (all of them for --help).
        if wanted and wanted[0] in COMMANDS and wanted[0] != name:
            subparsers.add_parser(name)
            continue
        importlib.import_module(f"gpen_hf.commands.{module}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
