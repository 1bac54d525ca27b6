"""``gpen-hf models``: the authors' weights known by name, and whether each is in the local cache."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models", help="list the authors' weights known by name",
        description="Names usable as --model / --bg-upsampler (fetched from the Hugging Face Hub on first use, "
        "checked on size and sha256, converted once): what each is, its size, licence, face template and "
        "whether it is in the local cache.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..hub import cache_root, is_cached
    from ..registry import REGISTRY

    rows = [("name", "what", "MB", "template", "cached")]
    for entry in REGISTRY.values():
        rows.append((entry.name, entry.description, f"{entry.size / 1e6:.1f}", entry.face_template or "-",
                     "yes" if is_cached(entry) else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    for licence in sorted({e.licence for e in REGISTRY.values()}):
        print(f"\nlicence: {licence}")
    print(f"fetch ahead: gpen-hf download NAME...; converted weights are kept in {cache_root()}")
    return 0
