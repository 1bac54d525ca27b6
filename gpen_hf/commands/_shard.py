"""Splitting a command's inputs between the processes of ``accelerate launch`` (or ``torchrun``), one device each.

Outside a launcher (``WORLD_SIZE`` unset or 1) everything is a no-op: the process gets all inputs and its own
results back. Under one, :class:`accelerate.PartialState` sets up the process group, each process takes its
contiguous share of the inputs, and :func:`gather` hands every process everyone's results, so the main
process prints one merged summary and all processes agree on the exit code.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from gpen_hf.distributed import all_gather_objects

T = TypeVar("T")


class Shard:
    """This process's share of the inputs and how to reach the others."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.state = None
        if self.world > 1:
            import torch
            from accelerate import PartialState

            # plain `torchrun` without GPUs: accelerate only sets up gloo multi-CPU when told cpu=True
            self.state = PartialState(cpu=not torch.cuda.is_available())

    @property
    def is_main(self) -> bool:
        return self.state is None or self.state.is_main_process

    @property
    def index(self) -> int:
        return 0 if self.state is None else self.state.process_index

    def device(self, requested: str | None) -> str:
        """``requested`` when given, else this process's device (its own GPU under a launcher), else CPU."""
        if requested:
            return requested
        return str(self.state.device) if self.state is not None else "cpu"

    def split(self, items: list[T]) -> list[T]:
        if self.state is None:
            return list(items)
        with self.state.split_between_processes(list(items)) as mine:
            return list(mine)

    def gather(self, records: list[Any]) -> list[Any]:
        """Every process's ``records``, in process order (all processes get the full list)."""
        return [r for part in all_gather_objects(list(records)) for r in part]

    def label(self) -> str:
        return f" by {self.world} processes" if self.world > 1 else ""
