#!/usr/bin/env python
"""Contact sheets of what a person sees: models on eval faces under the fixed degradations, and on real
low-quality faces. Writes JPEGs into docs/ (regenerate them whenever the default model changes):

    python scripts/contact_sheets.py --eval_data ../shared/data/ffhq/eval/256 --real_lq REAL_LQ_FACES \
        [--model previous=gpen_hf/assets/gpen-default --model new=RUN]

- ``contact_eval_moderate.jpg`` / ``contact_eval_severe.jpg``: rows of HQ | LQ | each model, one face a row.
- ``contact_real_lq.jpg`` (with ``--real_lq``): input | each model for 24 real low-quality faces, two a row.

Each sheet has a header row naming its columns. With several models the columns sit side by side, which is
how a new default model is compared with the one it replaces.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from gpen_hf.commands.evaluate import named_model
from gpen_hf.evaluation import degraded_inputs, list_images, load_faces
from gpen_hf.faces.align import resize_face
from gpen_hf.pipeline import GPENPipeline

DOCS = Path(__file__).resolve().parents[1] / "docs"
HEADER = 18


def sheet(rows: list[list[np.ndarray]], labels: list[str], gap: int = 4) -> np.ndarray:
    """Rows of equal-size RGB tiles under a header of column labels → one image, white gaps between tiles."""
    size = rows[0][0].shape[0]
    cols = max(len(r) for r in rows)
    top = HEADER + gap
    out = np.full((top + len(rows) * (size + gap) - gap, cols * (size + gap) - gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            y, x = top + r * (size + gap), c * (size + gap)
            out[y:y + size, x:x + size] = tile
    image = Image.fromarray(out)
    draw = ImageDraw.Draw(image)
    for c, label in enumerate(labels[:cols]):
        draw.text((c * (size + gap) + 3, 3), label, fill=(0, 0, 0))
    return np.asarray(image)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", metavar="[NAME=]PATH",
                        help="Model folder, run or name (repeatable; default: the shipped model).")
    parser.add_argument("--eval_data", required=True, help="Aligned HQ eval faces.")
    parser.add_argument("--real_lq", help="Aligned real low-quality faces (no sheet without them).")
    parser.add_argument("--faces", type=int, default=8, help="Eval faces per sheet (the first N, sorted).")
    parser.add_argument("--real_faces", type=int, default=24)
    parser.add_argument("--tile", type=int, default=128, help="Tile size in the sheets.")
    parser.add_argument("--out", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    specs = [named_model(s) for s in args.model] if args.model else [("restored", None)]
    pipes = {name: GPENPipeline.from_pretrained(path) for name, path in specs}
    resolutions = {p.resolution for p in pipes.values()}
    if len(resolutions) > 1:
        raise SystemExit(f"contact_sheets: the models restore at different sizes {sorted(resolutions)}")
    r, tile = resolutions.pop(), args.tile

    def show(face: np.ndarray) -> np.ndarray:
        return resize_face(face, tile)

    args.out.mkdir(parents=True, exist_ok=True)
    hq = load_faces(list_images(args.eval_data)[:args.faces], r)
    for preset in ("moderate", "severe"):
        lq = degraded_inputs(hq, preset, seed=0, baselines=())["LQ input"]
        restored = [pipe.restore_faces(lq) for pipe in pipes.values()]
        rows = [[show(h), show(x), *(show(out[i]) for out in restored)] for i, (h, x) in enumerate(zip(hq, lq))]
        labels = ["HQ", f"LQ ({preset})", *pipes]
        Image.fromarray(sheet(rows, labels)).save(args.out / f"contact_eval_{preset}.jpg", quality=90)
    print(f"wrote {args.out}/contact_eval_moderate.jpg, contact_eval_severe.jpg")
    if args.real_lq is None:
        return
    real = load_faces(list_images(args.real_lq)[:args.real_faces], r)
    restored = [pipe.restore_faces(real) for pipe in pipes.values()]
    groups = [[show(x), *(show(out[i]) for out in restored)] for i, x in enumerate(real)]
    rows = [[t for group in groups[i:i + 2] for t in group] for i in range(0, len(groups), 2)]
    labels = ["input", *pipes] * 2
    Image.fromarray(sheet(rows, labels)).save(args.out / "contact_real_lq.jpg", quality=90)
    print(f"wrote {args.out}/contact_real_lq.jpg")


if __name__ == "__main__":
    main()
