#!/usr/bin/env python
"""Train a stage on a lent GPU in chunks that fit its limits (64 MiB up, 8 files of 16 MiB back, 10 min a call).

On this machine, pack what travels into ``.gpu/`` (git-ignored; carry it with the device tool)::

    python training/gpu/chunk.py pack --start RUN/checkpoint-N --sources SRC... [--size 256] [--wheels]

then on the GPU machine, in the repository root, run the stage for at most ``--seconds``::

    python3 training/gpu/chunk.py run --stage pretrain_prior --seconds 500 -- STAGE ARGS...

``run`` trains from the latest checkpoint of its work folder when the machine still has one (a warm machine),
else from the carried start weights (``--init_from`` / ``--pretrained_model_name_or_path``: weights only, fresh
Adam), with ``--resume_from_checkpoint latest``; the stage's own ``--train_data_dir`` should name the packed
sources (``.gpu/data/0 .gpu/data/1 ...``, in the order given to ``pack``). It writes the latest checkpoint's
generator/ and discriminator/ (bf16) under ``$OUT``, which ``unpack`` turns back into a start folder here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / ".gpu"
WEIGHTS = "diffusion_pytorch_model.safetensors"
MODELS = ("generator", "discriminator")
UPLOAD_LIMIT = 64 * 2**20


def cast_folder(src: Path, dst: Path, dtype: torch.dtype) -> None:
    """Copy a ``save_pretrained`` folder, its floating-point tensors cast to ``dtype``."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "config.json", dst / "config.json")
    tensors = load_file(str(src / WEIGHTS))
    save_file({k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}, str(dst / WEIGHTS))


def pack(args: argparse.Namespace) -> None:
    """Faces (JPEGs up to ``--size`` as they are, larger ones area-resized to lossless WebP) + start weights."""
    import cv2

    from gpen_hf.training.data import source_images

    out = Path(args.out)
    shutil.rmtree(out / "data", ignore_errors=True)
    where = dict(item.split("=", 1) for item in args.manifest_filter or [])
    for index, source in enumerate(args.sources):
        folder = out / "data" / str(index)
        folder.mkdir(parents=True)
        for k, path in enumerate(source_images(source, where)):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"{path}: not an image OpenCV can read")
            name = f"{k:05d}_{path.stem}"
            if image.shape[0] <= args.size and path.suffix.lower() in (".jpg", ".jpeg"):
                shutil.copy(path, folder / f"{name}{path.suffix.lower()}")  # original bytes, no re-encoding
            else:
                size = min(args.size, image.shape[0])
                small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
                cv2.imwrite(str(folder / f"{name}.webp"), small, [cv2.IMWRITE_WEBP_QUALITY, 101])  # lossless
    if args.start:
        for sub in MODELS:
            cast_folder(Path(args.start) / sub, out / "start" / sub, torch.bfloat16)
    if args.wheels:  # the device image has torch, accelerate, safetensors... but not diffusers
        import diffusers

        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d",
                        str(out / "whl"), f"diffusers=={diffusers.__version__}"], check=True)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {total / 2**20:.1f} MiB")
    if total > UPLOAD_LIMIT - 4 * 2**20:  # the repository itself travels too
        raise SystemExit(f"{out} is {total / 2**20:.1f} MiB: too much for the 64 MiB upload; pack fewer faces")


def run(args: argparse.Namespace) -> int:
    """Install carried wheels, train one chunk under a time limit, hand back the latest weights in bf16."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    paths = [str(ROOT)]
    pack_dir = Path(args.pack)
    wheels = sorted((pack_dir / "whl").glob("*.whl"))
    if wheels:
        site = Path("/tmp/gpen-site")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target",
                        str(site), *map(str, wheels)], check=True)
        paths.append(str(site))
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    work = Path(args.work)
    run_dir = work / args.stage
    from_checkpoint = any(run_dir.glob("checkpoint-*"))
    command = [sys.executable, str(ROOT / "training" / f"{args.stage}.py"), "--output_dir", str(run_dir),
               "--resume_from_checkpoint", "latest", *args.stage_args]
    if not from_checkpoint and (pack_dir / "start").is_dir():
        start = work / "start"
        for sub in MODELS:
            cast_folder(pack_dir / "start" / sub, start / sub, torch.float32)
        flag = "--init_from" if args.stage == "pretrain_prior" else "--pretrained_model_name_or_path"
        command += [flag, str(start)]
    print("+", " ".join(command), flush=True)
    began = time.monotonic()
    try:
        code = subprocess.run(command, env=env, timeout=args.seconds, check=False).returncode
    except subprocess.TimeoutExpired:
        code = 124
    print(f"chunk: exit {code} after {time.monotonic() - began:.0f} s", flush=True)
    out = Path(args.out or os.environ.get("OUT", work / "out"))
    checkpoints = sorted(run_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    if not checkpoints:
        print("chunk: no checkpoint written", flush=True)
        return 1
    latest = checkpoints[-1]
    for sub in MODELS:
        cast_folder(latest / sub, out / sub, torch.bfloat16)
    (out / "chunk.json").write_text(json.dumps({"checkpoint": latest.name, "exit": code}))
    grids = sorted((run_dir / "validation").glob("*.png"))
    if grids:
        shutil.copy(grids[-1], out / grids[-1].name)
    print(f"chunk: {latest.name} -> {out}", flush=True)
    return 0


def unpack(args: argparse.Namespace) -> None:
    """A chunk's returned weights → an fp32 start folder here (for evaluation or the next ``pack --start``)."""
    for sub in MODELS:
        cast_folder(Path(args.returned) / sub, Path(args.folder) / sub, torch.float32)
    print(json.loads((Path(args.returned) / "chunk.json").read_text()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("pack", help="make .gpu/ here")
    p.add_argument("--sources", nargs="+", required=True, help="Face folders or manifests, as for training.")
    p.add_argument("--manifest_filter", nargs="+", default=None, metavar="COLUMN=VALUE")
    p.add_argument("--size", type=int, default=256, help="Faces larger than this travel area-resized to it.")
    p.add_argument("--start", default=None, help="Folder with generator/ and discriminator/ to start from.")
    p.add_argument("--wheels", action="store_true", help="Also carry the diffusers wheel.")
    p.add_argument("--out", default=str(PACK))
    p = commands.add_parser("run", help="on the GPU machine: train one chunk")
    p.add_argument("--stage", choices=("pretrain_prior", "finetune"), required=True)
    p.add_argument("--seconds", type=float, default=500, help="Wall-clock limit of the training process.")
    p.add_argument("--work", default="/tmp/gpen-chunks", help="Work folder (kept while the machine is warm).")
    p.add_argument("--pack", default=str(PACK), help="The carried folder made by pack.")
    p.add_argument("--out", default=None, help="Where the weights go (default: $OUT).")
    p.add_argument("stage_args", nargs=argparse.REMAINDER, help="After --: the stage's own arguments.")
    p = commands.add_parser("unpack", help="a chunk's returned weights → an fp32 start folder")
    p.add_argument("returned")
    p.add_argument("folder")
    args = parser.parse_args(argv)
    if getattr(args, "stage_args", None) and args.stage_args[0] == "--":
        args.stage_args = args.stage_args[1:]
    return {"pack": pack, "run": run, "unpack": unpack}[args.command](args) or 0


if __name__ == "__main__":
    sys.exit(main())
