"""Steadiness, sharpness and speed of ``restore-video`` against per-frame restoration, on clips with known motion.

Each photo becomes a clip (slow pan and zoom, fresh noise and JPEG in every frame, then H.264; see
``gpen_hf.video.synthetic``), so consecutive frames can be aligned with the *true* motion. Printed per clip, all
measured in this run:

* warping error inside the face (mean |frame_t − warp(frame_{t−1})|, 8-bit levels) of the input, of
  ``GPENPipeline`` run on every frame independently (what ``gpen-hf restore`` does to each frame), and of
  ``restore-video``; the ratio restore-video / per-frame (target ≤ 0.7);
* sharpness inside the face (variance of the Laplacian) of both restorations and their ratio;
* frames/s of both on this machine.

    python benchmarks/bench_video.py                       # the repo's test photos, 640×480, 48 frames
    python benchmarks/bench_video.py --photos a.jpg b.jpg --frames 96 --model path/to/model
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

from gpen_hf.pipeline import GPENPipeline
from gpen_hf.video.io import VideoReader, VideoWriter
from gpen_hf.video.restore import restore_video
from gpen_hf.video.synthetic import (
    face_mask,
    pan_zoom_transforms,
    render_clip,
    sharpness,
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


def encode_like_restore_video(frames: list[np.ndarray], clip: Path, workdir: Path) -> Path:
    """Write ``frames`` with the encoder and settings restore-video uses (timing of ``clip``)."""
    reader = VideoReader(clip)
    target = workdir / f"{clip.stem}_per_frame.mp4"
    writer = VideoWriter(target, reader.info)
    for frame, rgb in zip(reader.frames(), frames):
        writer.write(rgb, frame.pts)
    writer.close()
    reader.close()
    return target


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
    write_clip(clip, render_clip(photo, transforms, size, noise=args.noise, jpeg_quality=args.jpeg), crf=args.crf)
    source = read_frames(clip)
    masks = [np.any([face_mask(lm, m, size) for lm in dets.landmarks], axis=0) for m in transforms]

    start = time.perf_counter()
    per_frame = [pipe(f, output_type="np", batch_size=args.batch_size).image for f in source]
    per_frame_fps = len(source) / (time.perf_counter() - start)
    start = time.perf_counter()
    steady = list(pipe.restore_frames(source, 25, batch_size=args.batch_size, detect_every=args.detect_every))
    steady_fps = len(source) / (time.perf_counter() - start)
    rows = {"per-frame": (per_frame, per_frame_fps), "restore-video": (steady, steady_fps)}
    if args.ablate:
        rows["tracking only"] = (list(pipe.restore_frames(source, 25, batch_size=args.batch_size,
                                                          detect_every=args.detect_every, input_strength=0,
                                                          output_strength=0)), 0.0)
    # the files as written: restore-video's own output, and the per-frame results through the same encoder
    target = workdir / f"{photo_path.stem}_restored.mp4"
    result = restore_video(pipe, clip, target, progress=False, batch_size=args.batch_size,
                           detect_every=args.detect_every)
    rows["restore-video file"] = (read_frames(target), result.fps)
    rows["per-frame file"] = (read_frames(encode_like_restore_video(per_frame, clip, workdir)), 0.0)
    row = {"clip": f"{photo_path.name} {size[0]}×{size[1]}, {len(dets)} face(s)",
           "iod": float(dets.inter_ocular().mean() * transforms[len(transforms) // 2][0, 0]),
           "input": warping_error(source, transforms, masks), "sharp input": sharpness(source, masks)}
    for name, (frames, fps) in rows.items():
        row[name] = warping_error(frames, transforms, masks)
        row[f"sharp {name}"] = sharpness(frames, masks)
        row[f"fps {name}"] = fps
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", nargs="+", default=CLIPS, metavar="PHOTO[:WxH]")
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--noise", type=float, default=6.0, help="per-frame Gaussian noise, 8-bit levels")
    parser.add_argument("--jpeg", type=int, default=60, help="per-frame JPEG quality")
    parser.add_argument("--crf", type=int, default=23, help="H.264 CRF of the clip")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--detect-every", type=int, default=5)
    parser.add_argument("--ablate", action="store_true", help="also run restore-video without the temporal blend")
    args = parser.parse_args()
    pipe = GPENPipeline.from_pretrained(args.model)
    print(f"model: {args.model or 'shipped (gpen_hf/assets/gpen-default)'}, resolution {pipe.resolution}; "
          f"clips {args.width}×{args.height}, {args.frames} frames, noise {args.noise}, JPEG q{args.jpeg}, "
          f"CRF {args.crf}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [bench_clip(pipe, p, args, Path(tmp)) for p in args.photos]
    names = ["per-frame", "restore-video"] + (["tracking only"] if args.ablate else [])
    print("\nWarping error inside the faces (8-bit levels; frames as computed, before any encoding):")
    print("| clip | mean face IOD px (mid-clip) | input | " + " | ".join(names)
          + " | ratio | sharpness per-frame | restore-video | ratio | frames/s per-frame | restore-video |")
    print("|---" * (9 + len(names)) + "|")
    for r in rows:
        print(f"| {r['clip']} | {r['iod']:.0f} | {r['input']:.2f} | " + " | ".join(f"{r[n]:.2f}" for n in names)
              + f" | {r['restore-video'] / r['per-frame']:.2f} | {r['sharp per-frame']:.0f} | "
              f"{r['sharp restore-video']:.0f} | {r['sharp restore-video'] / r['sharp per-frame']:.2f} | "
              f"{r['fps per-frame']:.2f} | {r['fps restore-video']:.2f} |")
    print("\nThe same after H.264 (CRF 18, restore-video's writer) for both, as files on disk:")
    print("| clip | per-frame file | restore-video file | ratio | sharpness ratio | frames/s of the file command |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['clip']} | {r['per-frame file']:.2f} | {r['restore-video file']:.2f} | "
              f"{r['restore-video file'] / r['per-frame file']:.2f} | "
              f"{r['sharp restore-video file'] / r['sharp per-frame file']:.2f} | {r['fps restore-video file']:.2f} |")

if __name__ == "__main__":
    main()
