"""``gpen-hf restore-video``: restore the faces of videos, steady from frame to frame, keeping timing and audio.

One input: ``-o`` is the output file (or a folder). Several inputs: ``-o`` is a folder and each output keeps
its input's name. Prints one summary line per video (what was found, speed, anything incomplete), keeps going
past bad inputs, exits 1 at the end if any input failed or stopped early (2 when the model cannot be loaded).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gpen_hf.commands.restore import add_paste_options
from gpen_hf.video.io import PIXEL_FORMATS

VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"}
OUTPUT_EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".m4v"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "restore-video", help="restore the faces in videos",
        description="Track, steady and restore every face of each video; frame count, timing, size and audio "
                    "are kept.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video files or folders of videos")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                        help="output video file (one input) or folder (several inputs, or an existing folder)")
    parser.add_argument("--model", default=None, help="model folder or Hub repo id (default: the shipped model)")
    add_paste_options(parser)  # --alpha, --mask, --parsenet, --no-colour-match, --no-identity-guard
    parser.add_argument("--crf", type=int, default=18,
                        help="H.264 quality of the output, 0 (lossless) to 51 (default 18: visually lossless, so "
                             "the encoder adds little flicker of its own); VP9 (.webm) gets CRF + 12")
    parser.add_argument("--pix-fmt", choices=PIXEL_FORMATS, default="yuv420p",
                        help="output pixel format: yuv420p (default) plays everywhere; 4:4:4 and 10-bit formats "
                             "keep colour detail and add less frame-to-frame noise, but not every player takes them")
    parser.add_argument("--batch-size", type=int, default=8, help="frames whose faces go to the model together")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda or cuda:N (default cpu; under `accelerate launch`, each process's GPU)")
    parser.add_argument("--autocast-dtype", choices=["float32", "bf16", "fp16"], default="float32",
                        help="run the model under autocast in this precision (default float32)")
    parser.add_argument("--detect-every", type=int, default=5, help="run the face detector every k frames")
    parser.add_argument("--measure-every", type=int, default=4,
                        help="measure each face's degradation and identity every k frames of its track (default 4)")
    parser.add_argument("--fade", type=int, default=6, help="frames to fade faces in/out when they (dis)appear")
    parser.add_argument("--temporal", type=float, nargs=2, default=(0.85, 0.7), metavar=("INPUT", "OUTPUT"),
                        help="strength of the temporal blends of each face's frame region (face, hair, ears) and "
                             "of its restored crops (default 0.85 0.7; 0 0 = off, and then --alpha 0 returns the "
                             "input)")
    parser.add_argument("--max-faces", type=int, default=None, help="restore at most this many faces per frame")
    parser.set_defaults(func=run)


def expand_videos(inputs: list[str]) -> list[Path]:
    """Files as given (checked later), folders' video files (sorted, not recursive)."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            paths.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file()))
        else:
            paths.append(path)
    return paths


def output_paths(paths: list[Path], output: str) -> list[Path]:
    """One output per input: ``output`` itself for one input and a file name, else ``output/NAME`` (inputs
    whose container cannot be written, e.g. .avi, become .mp4)."""
    out = Path(output)
    if len(paths) == 1 and not out.is_dir() and out.suffix:
        return [out]
    names = [p.stem + (p.suffix if p.suffix.lower() in OUTPUT_EXTENSIONS else ".mp4") for p in paths]
    return [out / n for n in names]


def run(args: argparse.Namespace) -> int:
    import torch

    from gpen_hf.commands._shard import Shard
    from gpen_hf.pipeline import GPENPipeline
    from gpen_hf.video.io import VideoError
    from gpen_hf.video.restore import restore_video

    all_paths = expand_videos(args.inputs)
    if not all_paths:
        print("gpen-hf restore-video: no input videos found", file=sys.stderr)
        return 2
    if not 0 <= args.crf <= 51:
        print(f"gpen-hf restore-video: --crf must be in [0, 51], got {args.crf}", file=sys.stderr)
        return 2
    shard = Shard()  # under `accelerate launch`: this process's share of the videos
    pairs = shard.split(list(zip(all_paths, output_paths(all_paths, args.output))))
    try:
        if args.mask == "parsing" and not args.parsenet:
            raise ValueError("--mask parsing needs --parsenet PATH (ParseNet weights)")
        pipe = GPENPipeline.from_pretrained(args.model, torch_dtype=torch.float32, device=shard.device(args.device),
                                            parsing_model=args.parsenet)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"gpen-hf restore-video: cannot load the model: {err}", file=sys.stderr)
        return 2
    autocast_dtype = None if args.autocast_dtype == "float32" else args.autocast_dtype
    failed: list[str] = []
    frames = 0
    for path, target in pairs:
        try:
            result = restore_video(pipe, path, target, crf=args.crf, pix_fmt=args.pix_fmt, alpha=args.alpha,
                                   mask=args.mask, colour_match=not args.no_colour_match,
                                   identity_guard=not args.no_identity_guard, batch_size=args.batch_size,
                                   detect_every=args.detect_every, measure_every=args.measure_every,
                                   fade=args.fade, input_strength=args.temporal[0], output_strength=args.temporal[1],
                                   max_faces=args.max_faces, autocast_dtype=autocast_dtype, progress=shard.is_main)
        except (VideoError, ValueError, RuntimeError, OSError) as err:
            failed.append(str(path))
            print(f"FAILED {err if str(path) in str(err) else f'{path}: {err}'}", file=sys.stderr)
            continue
        print(result.message, flush=True)
        frames += result.frames
        if not result.complete:
            failed.append(str(path))
    records = shard.gather([(frames, failed)])
    failed = [f for _, part in records for f in part]
    if shard.world > 1 and shard.is_main:
        print(f"gpen-hf restore-video: {len(all_paths)} video(s){shard.label()}: "
              f"{sum(r[0] for r in records)} frames written, {len(failed)} failed or incomplete")
    if failed:
        if shard.is_main:
            print(f"gpen-hf restore-video: {len(failed)} of {len(all_paths)} video(s) failed or are incomplete: "
                  f"{', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
