"""Steadiness, sharpness and speed of ``restore-video`` against per-frame restoration, on clips with known motion.

Each photo becomes a clip (slow pan and zoom, fresh noise and JPEG in every frame, then H.264; see
``gpen_hf.video.synthetic``), so consecutive frames can be aligned with the *true* motion. Printed per clip, all
measured in this run, for the input, ``GPENPipeline`` on every frame independently (what ``gpen-hf restore``
does to each frame) and ``restore-video`` (``GPENPipeline.restore_frames``), both with the same paste-back:

* warping error inside the face (mean |frame_t − warp(frame_{t−1})|, 8-bit levels) and the ratio restore-video
  / per-frame (target ≤ 0.7);
* sharpness inside the face: the variance of the Laplacian (noise and shimmer count as sharpness there) and the
  *steady* sharpness (Laplacian of frame t times that of frame t−1 moved onto it: detail that stays), with
  ratios restore-video / per-frame;
* the same two after both are encoded by restore-video's writer (``--crf``, ``--pix-fmt``), as on disk;
* frames/s of both on this machine.

``--alpha`` is 1 by default: these clips' faces measure as only mildly degraded (the per-frame noise is mostly
taken out by the JPEG and H.264 steps), so ``alpha="auto"`` (restore-video's default, measured with
``--alpha auto``) blends in little of the model, and the shimmer of a generative restorer would go untested.
``--save-frames DIR`` writes input / per-frame / restore-video PNGs of a few frames.

    python benchmarks/bench_video.py --frames 24              # the repo's test photos, 24 frames each
    python benchmarks/bench_video.py --photos a.jpg:640x480 b.jpg --frames 96 --model path/to/model --alpha auto
    python benchmarks/bench_video.py --photos a.jpg:1280x720 --model random:512 --device cuda --autocast-dtype bf16
        # GPU throughput: GPEN-512's shape with random weights (its steadiness numbers mean nothing)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_forward import build_model

from gpen_hf.commands.restore import _alpha
from gpen_hf.pipeline import GPENPipeline
from gpen_hf.video.io import DEFAULT_CRF, PIXEL_FORMATS, VideoReader, VideoWriter
from gpen_hf.video.synthetic import (
    face_mask,
    pan_zoom_transforms,
    render_clip,
    sharpness,
    steady_sharpness,
    warping_error,
    write_clip,
)

#: PHOTO[:WxH] — frame size per clip (default --width × --height)
CLIPS = ["space/examples/skimage__astronaut.jpg:320x240", "space/examples/faceapi__sample3.jpg:640x480",
         "tests/fixtures/photos/faceapi__sample6_one_face.jpg:640x480"]


def read_frames(path: Path) -> list[np.ndarray]:
    reader = VideoReader(path)
    try:
        return [f.rgb for f in reader.frames()]
    finally:
        reader.close()


def encoded(frames: list[np.ndarray], clip: Path, target: Path, args: argparse.Namespace) -> list[np.ndarray]:
    """``frames`` through restore-video's writer (same settings and timing as its output file), read back."""
    reader = VideoReader(clip)
    writer = VideoWriter(target, reader.info, crf=args.crf, pix_fmt=args.pix_fmt)
    for frame, rgb in zip(reader.frames(), frames):
        writer.write(rgb, frame.pts)
    writer.close()
    reader.close()
    return read_frames(target)


def measures(frames: list[np.ndarray], transforms: list[np.ndarray], masks: list[np.ndarray]) -> tuple:
    return (warping_error(frames, transforms, masks), sharpness(frames, masks),
            steady_sharpness(frames, transforms, masks))


def save_frames(folder: Path, stem: str, rows: dict[str, list[np.ndarray]], masks: list[np.ndarray]) -> None:
    """Input / per-frame / restore-video side by side, cut around the faces, for three frames."""
    folder.mkdir(parents=True, exist_ok=True)
    for t in (len(masks) // 4, len(masks) // 2, len(masks) - 2):
        ys, xs = np.nonzero(masks[t])
        pad = 20
        y0, y1 = max(0, ys.min() - pad), min(masks[t].shape[0], ys.max() + pad)
        x0, x1 = max(0, xs.min() - pad), min(masks[t].shape[1], xs.max() + pad)
        tiles = [frames[t][y0:y1, x0:x1] for frames in rows.values()]
        scale = max(1, 256 // max(1, y1 - y0))
        strip = np.concatenate(tiles, axis=1)
        strip = cv2.resize(strip, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(folder / f"{stem}_t{t:03d}_{'_'.join(rows)}.png"), strip[:, :, ::-1])


def bench_clip(pipe: GPENPipeline, spec: str, args: argparse.Namespace, workdir: Path) -> dict:
    name, _, wxh = spec.partition(":")
    photo_path = Path(name) if Path(name).is_absolute() or Path(name).exists() else ROOT / name
    size = tuple(int(v) for v in wxh.split("x")) if wxh else (args.width, args.height)
    image = cv2.imread(str(photo_path))
    if image is None:
        raise SystemExit(f"{photo_path}: not an image")
    photo = np.ascontiguousarray(image[:, :, ::-1])
    dets = pipe.detector.detect(photo)
    if len(dets) == 0:
        raise SystemExit(f"{photo_path}: no face found in the photo")
    transforms = pan_zoom_transforms(args.frames, size, (photo.shape[1], photo.shape[0]))
    clip = workdir / f"{photo_path.stem}.mp4"
    write_clip(clip, render_clip(photo, transforms, size, noise=args.noise, jpeg_quality=args.jpeg),
               crf=args.clip_crf)
    source = read_frames(clip)
    masks = [np.any([face_mask(lm, m, size) for lm in dets.landmarks], axis=0) for m in transforms]
    paste = {"alpha": args.alpha, "mask": args.mask, "batch_size": args.batch_size,
             "autocast_dtype": args.autocast_dtype}

    start = time.perf_counter()
    per_frame = [pipe(f, output_type="np", **paste).image for f in source]
    per_frame_fps = len(source) / (time.perf_counter() - start)
    start = time.perf_counter()
    steady = list(pipe.restore_frames(source, 25, detect_every=args.detect_every, **paste))
    steady_fps = len(source) / (time.perf_counter() - start)
    rows = {"input": source, "per-frame": per_frame, "restore-video": steady}
    if args.ablate:
        rows["tracking only"] = list(pipe.restore_frames(source, 25, detect_every=args.detect_every,
                                                         input_strength=0, output_strength=0, **paste))
    if args.save_frames:
        save_frames(Path(args.save_frames), photo_path.stem, {k: rows[k] for k in list(rows)[:3]}, masks)
    row = {"clip": f"{photo_path.stem} {size[0]}×{size[1]}, {len(dets)} face(s)",
           "iod": float(dets.inter_ocular().mean() * transforms[len(transforms) // 2][0, 0]),
           "fps per-frame": per_frame_fps, "fps restore-video": steady_fps}
    for key, frames in rows.items():
        row[key] = measures(frames, transforms, masks)
    for key in ("per-frame", "restore-video"):
        on_disk = encoded(rows[key], clip, workdir / f"{photo_path.stem}_{key}.mp4", args)
        row[f"{key} file"] = measures(on_disk, transforms, masks)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", nargs="+", default=CLIPS, metavar="PHOTO[:WxH]")
    parser.add_argument("--model", default=None,
                        help="model folder, or random:RES (GPEN-BFR-RES's shape, random weights; default: shipped)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    parser.add_argument("--autocast-dtype", choices=["bf16", "fp16"], default=None,
                        help="run the model under autocast (default fp32)")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--noise", type=float, default=6.0, help="per-frame Gaussian noise, 8-bit levels")
    parser.add_argument("--jpeg", type=int, default=60, help="per-frame JPEG quality")
    parser.add_argument("--clip-crf", type=int, default=23, help="H.264 CRF of the test clip")
    parser.add_argument("--crf", type=int, default=DEFAULT_CRF, help="H.264 CRF of the outputs")
    parser.add_argument("--pix-fmt", choices=PIXEL_FORMATS, default="yuv420p", help="outputs' pixel format")
    parser.add_argument("--alpha", type=_alpha, default=1.0, help="fidelity blend of both restorations")
    parser.add_argument("--mask", choices=["face", "square"], default="face")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--detect-every", type=int, default=5)
    parser.add_argument("--ablate", action="store_true", help="also run restore-video without the temporal blend")
    parser.add_argument("--save-frames", default=None, metavar="DIR", help="write a few frames as PNG here")
    args = parser.parse_args()
    if args.model and args.model.startswith("random:"):
        pipe = GPENPipeline(build_model(int(args.model.split(":", 1)[1])))
    else:
        pipe = GPENPipeline.from_pretrained(args.model)
    pipe.to(args.device)
    print(f"model: {args.model or 'shipped (gpen_hf/assets/gpen-default)'}, resolution {pipe.resolution}; "
          f"{args.frames} frames, noise {args.noise}, JPEG q{args.jpeg}, clip CRF {args.clip_crf}; "
          f"alpha {args.alpha}, mask {args.mask}; outputs encoded at CRF {args.crf} {args.pix_fmt}; "
          f"{args.device}, {args.autocast_dtype or 'fp32'}, batch {args.batch_size}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [bench_clip(pipe, p, args, Path(tmp)) for p in args.photos]
    names = ["input", "per-frame", "restore-video"] + (["tracking only"] if args.ablate else [])
    for title, suffix in (("frames as computed, before encoding", ""),
                          (f"after H.264 CRF {args.crf} {args.pix_fmt} (restore-video's writer), as on disk",
                           " file")):
        cols = names if not suffix else ["per-frame", "restore-video"]
        print(f"\nInside the faces, {title}:\nwarping error (8-bit levels) / Laplacian variance / steady sharpness")
        print("| clip | IOD px | " + " | ".join(cols) + " | warping ratio | sharpness ratio | steady ratio |")
        print("|---" * (5 + len(cols)) + "|")
        for r in rows:
            pf, rv = r["per-frame" + suffix], r["restore-video" + suffix]
            cells = [f"{w:.2f} / {s:.0f} / {c:.0f}" for w, s, c in (r[n + suffix] for n in cols)]
            print(f"| {r['clip']} | {r['iod']:.0f} | " + " | ".join(cells)
                  + f" | {rv[0] / pf[0]:.2f} | {rv[1] / pf[1]:.2f} | {rv[2] / pf[2]:.2f} |")
    speeds = [f"{r['clip']}: per-frame {r['fps per-frame']:.2f}, restore-video {r['fps restore-video']:.2f}"
              for r in rows]
    print("\nframes/s (this machine): " + "; ".join(speeds))


if __name__ == "__main__":
    main()
