#!/usr/bin/env python
"""Repack the face-api.js face-recognition net (dlib ResNet-29 port, 128-d) from the npm tarball (run once).

    npm pack @vladmandic/face-api@1.7.15          # -> vladmandic-face-api-1.7.15.tgz
    python scripts/convert_face_recognition_weights.py vladmandic-face-api-1.7.15.tgz

``package/model/face_recognition_model.bin`` is a TF.js weight file described by
``face_recognition_model-weights_manifest.json``: tensors in manifest order, most uint8-quantised
(``value = q * scale + min``), some float32. The repack is lossless: quantised tensors are stored as uint8
``<name>.q`` plus ``<name>.qparams`` = [scale, min] (float32); float32 ones as-is. Names keep the TF.js
layout (HWIO filters); ``gpen_hf.metrics.identity`` dequantises and transposes at load time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tarfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

BIN = "package/model/face_recognition_model.bin"
MANIFEST = "package/model/face_recognition_model-weights_manifest.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tgz", type=Path, help="path to vladmandic-face-api-1.7.15.tgz")
    ap.add_argument("--out", type=Path, default=Path("gpen_hf/assets/face_recognition_faceapi.safetensors"))
    args = ap.parse_args()
    with tarfile.open(args.tgz, "r:gz") as tar:
        manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        raw = tar.extractfile(BIN).read()  # type: ignore[union-attr]
    weights = [w for group in manifest for w in group["weights"]]
    tensors: dict[str, torch.Tensor] = {}
    off = 0
    for w in weights:
        n = int(np.prod(w["shape"]))
        q = w.get("quantization")
        if q:
            if q["dtype"] != "uint8":
                raise SystemExit(f"unexpected quantisation {q} for {w['name']}")
            arr = np.frombuffer(raw, np.uint8, n, off).reshape(w["shape"])
            off += n
            tensors[w["name"] + ".q"] = torch.from_numpy(arr.copy())
            tensors[w["name"] + ".qparams"] = torch.tensor([q["scale"], q["min"]], dtype=torch.float32)
        else:
            arr = np.frombuffer(raw, np.float32, n, off).reshape(w["shape"])
            off += 4 * n
            tensors[w["name"]] = torch.from_numpy(arr.copy())
    if off != len(raw):
        raise SystemExit(f"manifest covers {off} bytes but the .bin has {len(raw)}")
    meta = {
        "source_package": "@vladmandic/face-api@1.7.15 (npm, MIT)",
        "source_file": BIN,
        "source_file_sha256": hashlib.sha256(raw).hexdigest(),
        "source_tgz_sha256": hashlib.sha256(args.tgz.read_bytes()).hexdigest(),
        "architecture": "face-api.js FaceRecognitionNet (port of dlib dlib_face_recognition_resnet_model_v1)",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(args.out), metadata=meta)
    for k, v in meta.items():
        print(f"{k}: {v}")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(weights)} tensors)")


if __name__ == "__main__":
    main()
