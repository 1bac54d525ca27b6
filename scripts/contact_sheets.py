#!/usr/bin/env python
"""Contact sheets of what a person sees: the model on eval faces under the fixed degradations, and on real
low-quality faces. Writes JPEGs into docs/ (regenerate them whenever the default model changes):

    python scripts/contact_sheets.py --eval_data ../shared/data/ffhq/eval/256 --real_lq REAL_LQ_FACES [--model M]

- ``contact_eval_moderate.jpg`` / ``contact_eval_severe.jpg``: rows of HQ | LQ | restored, one face a row.
- ``contact_real_lq.jpg``: input | restored for 24 real low-quality faces, two faces a row.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from gpen_hf.evaluation import degraded_inputs, list_images, load_faces
from gpen_hf.faces.align import resize_face
from gpen_hf.pipeline import GPENPipeline

DOCS = Path(__file__).resolve().parents[1] / "docs"


def sheet(rows: list[list[np.ndarray]], gap: int = 4) -> np.ndarray:
    """Rows of equal-size RGB tiles → one image with a white gap between tiles."""
    size = rows[0][0].shape[0]
    cols = max(len(r) for r in rows)
    out = np.full((len(rows) * (size + gap) - gap, cols * (size + gap) - gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            out[r * (size + gap):r * (size + gap) + size, c * (size + gap):c * (size + gap) + size] = tile
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="Model folder or name (default: the shipped model).")
    parser.add_argument("--eval_data", required=True, help="Aligned HQ eval faces.")
    parser.add_argument("--real_lq", required=True, help="Aligned real low-quality faces.")
    parser.add_argument("--faces", type=int, default=8, help="Eval faces per sheet (the first N, sorted).")
    parser.add_argument("--real_faces", type=int, default=24)
    parser.add_argument("--tile", type=int, default=128, help="Tile size in the sheets.")
    parser.add_argument("--out", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    pipe = GPENPipeline.from_pretrained(args.model)
    r, tile = pipe.resolution, args.tile

    def show(face: np.ndarray) -> np.ndarray:
        return resize_face(face, tile)

    args.out.mkdir(parents=True, exist_ok=True)
    hq = load_faces(list_images(args.eval_data)[:args.faces], r)
    for name in ("moderate", "severe"):
        lq = degraded_inputs(hq, name, seed=0, baselines=())["LQ input"]
        restored = pipe.restore_faces(lq)
        rows = [[show(a), show(b), show(c)] for a, b, c in zip(hq, lq, restored)]
        Image.fromarray(sheet(rows)).save(args.out / f"contact_eval_{name}.jpg", quality=90)
    real = load_faces(list_images(args.real_lq)[:args.real_faces], r)
    restored = pipe.restore_faces(real)
    pairs = [[show(a), show(b)] for a, b in zip(real, restored)]
    rows = [pairs[i] + (pairs[i + 1] if i + 1 < len(pairs) else []) for i in range(0, len(pairs), 2)]
    Image.fromarray(sheet(rows)).save(args.out / "contact_real_lq.jpg", quality=90)
    print(f"wrote {args.out}/contact_eval_moderate.jpg, contact_eval_severe.jpg, contact_real_lq.jpg")


if __name__ == "__main__":
    main()
