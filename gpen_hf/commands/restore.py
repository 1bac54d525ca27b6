"""``gpen-hf restore``: restore the faces of photos (files, folders or globs) into an output folder.

Prints one summary line per image, keeps going past unreadable files, and exits 1 at the end if any
input failed (2 when nothing could be loaded to begin with, e.g. no model).
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

from gpen_hf.image_io import IMAGE_EXTENSIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    from gpen_hf import registry

    parser = subparsers.add_parser("restore", help="restore the faces in photos",
                                   description="Detect, align, restore and paste back every face of each photo.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the restored images")
    parser.add_argument("--model", default=None,
                        help="model folder, Hub repo id, authors' .pth or a name from `gpen-hf models` such as "
                             "gpen-bfr-512 (default: the shipped model)")
    parser.add_argument("--aligned", action="store_true", help="inputs are already aligned face crops")
    parser.add_argument("--save-faces", action="store_true",
                        help="also save each aligned input crop and restored face under OUTDIR/faces/")
    add_paste_options(parser)
    parser.add_argument("--upscale", type=float, default=1.0, help="output size factor (default 1)")
    parser.add_argument("--bg-upsampler", default="lanczos", choices=["lanczos", *registry.names("realesrnet")],
                        help="how the background is enlarged when --upscale > 1: lanczos (default) or the authors' "
                             "realesrnet-x2 (fetched on first use)")
    parser.add_argument("--only-center-face", action="store_true", help="restore only the face nearest the centre")
    parser.add_argument("--max-faces", type=int, default=None, help="restore at most this many (largest) faces")
    parser.add_argument("--batch-size", type=int, default=4, help="faces per model call (default 4)")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda or cuda:N (default cpu; under `accelerate launch`, each process's GPU)")
    parser.add_argument("--torch-dtype", choices=["float32", "float16", "bfloat16"], default="float32",
                        help="dtype the model weights are loaded in (default float32)")
    parser.add_argument("--onnx", default=None, metavar="FILE",
                        help="run this graph from `gpen-hf export-onnx` with onnxruntime instead of --model "
                             "(CPU, fp32)")
    parser.add_argument("--ext", default=None, help="output extension, e.g. png or jpg (default: png)")
    parser.set_defaults(func=run)


def add_paste_options(parser: argparse.ArgumentParser) -> None:
    """How faces go back into the picture; ``restore`` and ``restore-video`` share them (and the paste-back)."""
    from gpen_hf.faces.mask import MASK_KINDS

    parser.add_argument("--alpha", type=_alpha, default="auto",
                        help="fidelity blend per face: 'auto' (default) measures each face's blur, noise and "
                             "JPEG blocking and leaves clean faces almost untouched; a number in [0, 1] forces "
                             "it (1 = restored face only, 0 = input face)")
    parser.add_argument("--mask", choices=MASK_KINDS, default="face",
                        help="where restored faces are pasted: the face region (default: hair, ears and "
                             "background keep the photo), a face-parsing mask (needs --parsenet) or the square "
                             "crop")
    parser.add_argument("--parsenet", default=None, metavar="PATH",
                        help="ParseNet weights for --mask parsing (the official ParseNet-latest.pth, the same "
                             "file as facexlib's parsing_parsenet.pth)")
    parser.add_argument("--no-colour-match", action="store_true",
                        help="keep the model's colours (default: match the photo's low-frequency colour)")
    parser.add_argument("--no-identity-guard", action="store_true",
                        help="do not lower a face's blend when its identity strays from the input face's")


def _alpha(value: str) -> str | float:
    if value == "auto":
        return value
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number in [0, 1], got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"alpha must be in [0, 1], got {number}")
    return number


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given, folders' image files (sorted, not recursive), glob matches; a pattern matching
    nothing is kept as-is so it is reported as a failure instead of silently skipped."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            paths.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()))
        elif any(ch in item for ch in "*?[") and not path.exists():
            matches = sorted(Path(m) for m in glob.glob(item))
            paths.extend(matches if matches else [path])
        else:
            paths.append(path)
    return paths


def _output_path(outdir: Path, source: Path, ext: str | None, has_alpha: bool) -> Path:
    suffix = "." + ext.lstrip(".") if ext else ".png"
    if has_alpha and suffix.lower() not in (".png", ".webp", ".tif", ".tiff"):
        suffix = ".png"  # keep the transparency the input had
    return outdir / (source.stem + suffix)


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from gpen_hf.commands._shard import Shard
    from gpen_hf.image_io import ImageLoadError, save_image
    from gpen_hf.pipeline import GPENPipeline
    from gpen_hf.upsample import get_upsampler

    all_paths = expand_inputs(args.inputs)
    if not all_paths:
        print("gpen-hf restore: no input images found", file=sys.stderr)
        return 2
    shard = Shard()  # under `accelerate launch`: this process's share of the photos
    paths = shard.split(all_paths)
    try:
        if args.mask == "parsing" and not args.parsenet:
            raise ValueError("--mask parsing needs --parsenet PATH (ParseNet weights)")
        if args.onnx:
            if args.model or args.device not in (None, "cpu") or args.torch_dtype != "float32":
                raise ValueError("--onnx runs an exported graph on the CPU in float32: "
                                 "drop --model/--device/--torch-dtype")
            pipe = GPENPipeline.from_onnx(args.onnx, parsing_model=args.parsenet)
        else:
            pipe = GPENPipeline.from_pretrained(args.model, torch_dtype=getattr(torch, args.torch_dtype),
                                                device=shard.device(args.device), parsing_model=args.parsenet)
        upsampler = get_upsampler(args.bg_upsampler, pipe.device) if args.upscale > 1 else None
    except (OSError, ValueError, RuntimeError) as err:
        print(f"gpen-hf restore: cannot load the model: {err}", file=sys.stderr)
        return 2
    outdir = Path(args.output)
    outdir.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    faces = 0
    for path in tqdm(paths, desc="restore", unit="img", file=sys.stderr, disable=len(paths) < 2 or not shard.is_main):
        start = time.perf_counter()
        try:
            result = pipe(path, aligned=args.aligned, alpha=args.alpha, mask=args.mask,
                          colour_match=not args.no_colour_match, identity_guard=not args.no_identity_guard,
                          upscale=args.upscale, only_center_face=args.only_center_face,
                          max_faces=args.max_faces, batch_size=args.batch_size, background_upsampler=upsampler,
                          output_type="np")
        except (ImageLoadError, ValueError, RuntimeError, OSError) as err:
            failed.append(str(path))
            reason = str(err) if str(path) in str(err) else f"{path}: {err}"
            tqdm.write(f"FAILED {reason}", file=sys.stderr)
            continue
        image = result.image
        target = _output_path(outdir, path, args.ext, image.shape[2] == 4)
        save_image(target, image[:, :, :3], image[:, :, 3] if image.shape[2] == 4 else None)
        if args.save_faces:
            for k, (crop, face) in enumerate(zip(result.cropped_faces, result.restored_faces)):
                save_image(outdir / "faces" / f"{path.stem}_{k:02d}_input.png", crop)
                save_image(outdir / "faces" / f"{path.stem}_{k:02d}_restored.png", face)
        faces += result.num_faces
        note = "" if result.num_faces else " (no face found: saved unchanged)"
        if result.fidelity:
            note += " (α " + ", ".join(f"{f.alpha:.2f}" for f in result.fidelity) + ")"
        tqdm.write(f"{path}: {result.num_faces} face(s), {time.perf_counter() - start:.2f} s -> {target}{note}")
    records = shard.gather([(len(paths), faces, failed)])
    failed = [f for _, _, part in records for f in part]
    if shard.world > 1 and shard.is_main:
        print(f"gpen-hf restore: {len(all_paths)} image(s){shard.label()}: "
              f"{sum(r[1] for r in records)} face(s) restored, {len(failed)} failed")
    if failed:
        if shard.is_main:
            print(f"gpen-hf restore: {len(failed)} of {len(all_paths)} input(s) failed: {', '.join(failed)}",
                  file=sys.stderr)
        return 1
    return 0

