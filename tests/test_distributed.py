"""gpen_hf.distributed under a launcher: two CPU processes (gloo), beside a DDP model as in training."""

from __future__ import annotations

import pytest
from _torchrun import torchrun

# A switch interval of 100 s keeps the GIL away from gloo's worker threads until the main thread blocks, so a
# worker still holding a gathered tensor at exit meets a finalising interpreter: with a plain
# `dist.all_gather_object` this script aborted ("terminate called without an active exception") in 3 of 6
# launches. The group's own threads must also be gone when the call returns.
SCRIPT = """
import os, sys
sys.setswitchinterval(100)
import torch, torch.distributed as dist
from gpen_hf.distributed import all_gather_objects

def threads():
    return len(os.listdir("/proc/self/task"))

dist.init_process_group("gloo")
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 4))
before = threads()
everyone = all_gather_objects({"rank": dist.get_rank(), "payload": "x" * 100_000})
assert [e["rank"] for e in everyone] == [0, 1], everyone
assert threads() == before, (before, threads())
"""


def test_outside_a_process_group_a_process_gets_its_own_object_back() -> None:
    from gpen_hf.distributed import all_gather_objects

    assert all_gather_objects({"a": 1}) == [{"a": 1}]


@pytest.mark.distributed
@pytest.mark.slow
def test_processes_exit_cleanly_right_after_gathering(tmp_path) -> None:
    script = tmp_path / "gather_and_exit.py"
    script.write_text(SCRIPT)
    for _ in range(3):
        proc = torchrun(29537, str(script), timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
