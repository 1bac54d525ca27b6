"""Whole photos never worse (issue 16): what restoring does to sharp photos and to degraded ones.

    python benchmarks/bench_photo_fidelity.py photos              # eval photos of ../shared (default split)
    python benchmarks/bench_photo_fidelity.py photos --split train
    python benchmarks/bench_photo_fidelity.py photos --dir PATH   # any folder of photos (e.g. ones we don't have)
    python benchmarks/bench_photo_fidelity.py guard               # identity guard firing on eval512 / real_lq512
    python benchmarks/bench_photo_fidelity.py thresholds          # quality measures on train photos, by degradation

``photos`` prints two numbers over all faces with IOD ≥ ``--min-iod`` px: (1) *sharp*: LPIPS of each face in the
restored photo to itself in the input photo (target ≤ 0.06); (2) *degraded*: the photo area-downscaled ×4, noise
σ 5, JPEG 35, bicubic back up, restored: LPIPS of each face to the clean photo's, for the degraded input and the
restored output (target: restored lower). Faces are compared as 256-px aligned crops placed by the clean photo's
landmarks. The pipeline runs with its defaults (so the script also measures older checkouts) and the shipped
model unless ``--model``. ``$GPEN_SHARED`` replaces ``../shared`` (e.g. from a git worktree).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photo_sets import FACES, degrade_photo, split_photos

from gpen_hf.faces.align import FaceAligner
from gpen_hf.faces.detect import FaceDetector
from gpen_hf.image_io import load_image
from gpen_hf.metrics.lpips import LPIPS, lpips_distance

DATA = Path("/work/data") if Path("/work/data").is_dir() else FACES


def face_crops(image: np.ndarray, landmarks: np.ndarray, aligner: FaceAligner) -> list[np.ndarray]:
    return [aligner.warp(image, lm)[0] for lm in landmarks]


def cmd_photos(args: argparse.Namespace) -> None:
    from gpen_hf.pipeline import GPENPipeline

    pipe = GPENPipeline.from_pretrained(args.model)
    paths = sorted(p for p in Path(args.dir).iterdir() if p.is_file()) if args.dir else split_photos(args.split)
    detector, aligner, lpips = FaceDetector(), FaceAligner(256), LPIPS()
    sharp, before, after, alphas = [], [], [], {"sharp": [], "degraded": []}
    for path in paths:
        try:
            clean = load_image(path).rgb
        except Exception as err:  # noqa: BLE001 - a folder may hold non-images
            print(f"skip {path.name}: {err}")
            continue
        dets = detector.detect(clean)
        keep = dets.inter_ocular() >= args.min_iod
        if not keep.any():
            continue
        lms = dets.landmarks[keep]
        ref = face_crops(clean, lms, aligner)
        out = pipe(clean, output_type="np")
        s = [lpips_distance(a, b, lpips) for a, b in zip(face_crops(out.image[:, :, :3], lms, aligner), ref)]
        bad = degrade_photo(clean, 4, 5, 35)
        out_bad = pipe(bad, output_type="np")
        b = [lpips_distance(a, c, lpips) for a, c in zip(face_crops(bad, lms, aligner), ref)]
        a = [lpips_distance(x, c, lpips) for x, c in zip(face_crops(out_bad.image[:, :, :3], lms, aligner), ref)]
        for key, o in (("sharp", out), ("degraded", out_bad)):
            alphas[key] += [f.alpha for f in getattr(o, "fidelity", [])]
        sharp += s
        before += b
        after += a
        print(f"{path.name:42s} faces {len(s)}  sharp {np.mean(s):.3f}  degraded {np.mean(b):.3f} -> "
              f"restored {np.mean(a):.3f}", flush=True)
    print(f"\n{len(sharp)} faces (IOD >= {args.min_iod:g} px) in {len(paths)} photos, model "
          f"{args.model or 'shipped default'}")
    print(f"sharp photo: faces' LPIPS to themselves  mean {np.mean(sharp):.3f}  max {np.max(sharp):.3f}  "
          "(target <= 0.06)")
    print(f"degraded (x4 area, noise 5, JPEG 35, bicubic up): LPIPS to clean  input {np.mean(before):.3f}  "
          f"restored {np.mean(after):.3f}  (restored better on {np.mean(np.array(after) < before):.0%} of faces)")
    for key, vals in alphas.items():
        if vals:
            print(f"alpha used on {key} photos: mean {np.mean(vals):.2f}  range {min(vals):.2f}-{max(vals):.2f}")


def cmd_guard(args: argparse.Namespace) -> None:
    from gpen_hf.pipeline import GPENPipeline

    pipe = GPENPipeline.from_pretrained(args.model)
    for split in args.splits:
        files = sorted((DATA / split).glob("*.png"))
        for alpha in ("auto", 1.0):
            fired, sims, used = 0, [], []
            for f in files:
                out = pipe(f, aligned=True, alpha=alpha, output_type="np")
                fid = out.fidelity[0]
                fired += fid.guarded
                used.append(fid.alpha)
                if fid.identity is not None:
                    sims.append(fid.identity)
            sim_text = f"similarity min {min(sims):.3f} median {np.median(sims):.3f}" if sims else "not checked"
            print(f"{split:12s} alpha={alpha!s:5s} guard fired on {fired}/{len(files)} faces "
                  f"({fired / len(files):.0%}); {sim_text}; alpha used mean {np.mean(used):.2f}", flush=True)


def cmd_thresholds(args: argparse.Namespace) -> None:
    from gpen_hf.faces.quality import analysis_crop, estimate_quality, photo_block_region

    cases = {"clean": None, "x2": (2, 0, None), "x4": (4, 0, None), "noise3": (1, 3, None),
             "noise5": (1, 5, None), "jpeg70": (1, 0, 70), "jpeg35": (1, 0, 35), "x4n5j35": (4, 5, 35)}
    detector = FaceDetector()
    rows: dict[str, list[tuple[float, ...]]] = {k: [] for k in cases}
    for path in split_photos("train")[::args.every]:
        rgb = load_image(path).rgb
        dets = detector.detect(rgb)
        lms = dets.landmarks[dets.inter_ocular() >= 60]
        for name, params in cases.items():
            image = rgb if params is None else degrade_photo(rgb, *params)
            for lm in lms:
                q = estimate_quality(analysis_crop(image, lm), None, photo_block_region(image, lm))
                rows[name].append((q.sharpness, q.noise, q.blocking, q.score))
    print("quantiles 5 / 50 / 95 % of each measure on train faces (IOD >= 60), by degradation")
    for name, vals in rows.items():
        v = np.array(vals)
        cols = ["  ".join(f"{x:6.3f}" for x in np.quantile(v[:, i], [0.05, 0.5, 0.95])) for i in range(4)]
        print(f"{name:8s} n={len(v):3d}  sharpness {cols[0]} | noise {cols[1]} | blocking {cols[2]} | "
              f"score {cols[3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("photos")
    p.add_argument("--split", default="eval", choices=["train", "eval"])
    p.add_argument("--dir", default=None, help="a folder of photos instead of a split of ../shared")
    p.add_argument("--min-iod", type=float, default=60.0)
    p.add_argument("--model", default=None)
    p = sub.add_parser("guard")
    p.add_argument("--splits", nargs="+", default=["eval512", "real_lq512"])
    p.add_argument("--model", default=None)
    p = sub.add_parser("thresholds")
    p.add_argument("--every", type=int, default=3, help="use every N-th train photo")
    args = parser.parse_args()
    {"photos": cmd_photos, "guard": cmd_guard, "thresholds": cmd_thresholds}[args.cmd](args)


if __name__ == "__main__":
    main()
