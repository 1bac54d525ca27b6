"""Throughput of ``degrade`` (images/s, one process, one thread) at 128 and 512 px for each preset.

Run: ``python benchmarks/bench_degradation.py [--seconds 3]``. Uses a real-looking synthetic face-sized
image (smooth gradients plus texture); parameters are drawn fresh for every image, as in training.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from gpen_hf.degradation import degrade, sample


def make_image(resolution: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    smooth = cv2.resize(base, (resolution, resolution), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    texture = rng.integers(-20, 20, (resolution, resolution, 3), dtype=np.int16)
    return np.clip(smooth + texture, 0, 255).astype(np.uint8)


def measure(resolution: int, preset: str, seconds: float) -> float:
    image = make_image(resolution)
    rng = np.random.default_rng(0)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        degrade(image, sample(rng, preset, resolution=resolution))
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (1 = per data-loader worker)")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    print(f"degrade() throughput, {args.threads} OpenCV thread(s), {args.seconds:.0f} s each")
    for preset in ("paper", "gfpgan"):
        for resolution in (128, 512):
            print(f"  {preset:7s} {resolution:4d} px: {measure(resolution, preset, args.seconds):8.1f} images/s")


if __name__ == "__main__":
    main()
