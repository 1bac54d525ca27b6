"""Two CPU processes under torchrun (what `accelerate launch` runs under the hood); on CPU the group uses gloo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def torchrun(port: int, *args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    """Run ``python -m torch.distributed.run --nproc_per_node 2 ... args`` from the repository root."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
           *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT, check=False)
