#!/usr/bin/env python
"""Extract the NIQE pristine-model parameters from the ``basicsr`` 1.4.2 sdist (run once).

    pip download --no-deps --no-build-isolation -d /tmp/bsr basicsr==1.4.2
    python scripts/convert_niqe_params.py /tmp/bsr/basicsr-1.4.2.tar.gz

Writes ``gpen_hf/assets/niqe_pris_params.npz`` with ``mu_pris_param`` (1, 36) and ``cov_pris_param``
(36, 36), float64, unchanged. (The file's third array, the 7x7 Gaussian window, is recomputed in code:
MATLAB ``fspecial('gaussian', 7, 7/6)``; this script checks it matches.) basicsr is Apache-2.0; the
parameters are the ones of the official MATLAB NIQE release (modelparameters.mat).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np

MEMBER = "basicsr-1.4.2/basicsr/metrics/niqe_pris_params.npz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sdist", type=Path, help="path to basicsr-1.4.2.tar.gz")
    ap.add_argument("--out", type=Path, default=Path("gpen_hf/assets/niqe_pris_params.npz"))
    args = ap.parse_args()
    with tarfile.open(args.sdist, "r:gz") as tar:
        f = tar.extractfile(MEMBER)
        if f is None:
            raise SystemExit(f"{MEMBER} not found in {args.sdist}")
        raw = f.read()
    src = np.load(io.BytesIO(raw), allow_pickle=False)
    x = np.arange(-3, 4, dtype=np.float64)
    win = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * (7 / 6) ** 2))
    win /= win.sum()
    if np.abs(win - src["gaussian_window"]).max() > 1e-12:
        raise SystemExit("gaussian_window is not fspecial('gaussian', 7, 7/6)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, mu_pris_param=src["mu_pris_param"], cov_pris_param=src["cov_pris_param"])
    print(f"source {MEMBER} sha256 {hashlib.sha256(raw).hexdigest()}")
    print(f"sdist sha256 {hashlib.sha256(args.sdist.read_bytes()).hexdigest()}")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
