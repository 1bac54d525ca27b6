"""Gathering Python objects from every process at the end of a distributed run, without the exit abort.

``torch.distributed.all_gather_object`` returns as soon as the collective completes, while gloo's worker
thread still holds the work and its tensors. When it drops them a moment later it needs the GIL, and if that
process is already shutting down, the worker thread ends inside a C++ destructor and the process aborts
("terminate called without an active exception"; seen in CI right after training's last gather).
Waiting does not help: a barrier keeps the earlier work alive, and a group that DDP has used is never
destroyed before exit, so its workers live into interpreter shutdown.

:func:`all_gather_objects` gathers on a gloo group of its own and destroys that group before returning.
Destroying the group joins its worker threads, so they drop the tensors while the interpreter is still
running.
"""

from __future__ import annotations

from typing import Any


def all_gather_objects(obj: Any) -> list[Any]:
    """Every process's picklable ``obj``, in rank order (``[obj]`` outside a process group). On GPUs the
    objects travel through gloo on the CPU, as ``all_gather_object``'s documentation recommends."""
    import torch.distributed as dist

    if not dist.is_initialized():
        return [obj]
    group = dist.new_group(backend="gloo")
    everyone: list[Any] = [None] * dist.get_world_size()
    try:
        dist.all_gather_object(everyone, obj, group=group)
    finally:
        dist.destroy_process_group(group)
        del group  # the last reference: the group and its worker threads end here, not at exit
    return everyone
