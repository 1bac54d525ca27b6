"""Checkpoint glue on top of ``accelerate``: atomic checkpoint folders, rotation, ``latest``, EMA, small state.

A checkpoint is written to ``checkpoint-N.tmp`` by every rank (``Accelerator.save_state``: models, optimizers,
schedulers, RNG states of every process, EMA and :class:`TrainState`), and only renamed to ``checkpoint-N``
once all ranks are done. A run killed while writing leaves a ``.tmp`` folder that ``latest`` never picks (and
the next save removes). With several nodes, ``output_dir`` must be on a shared filesystem.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

import torch
from accelerate import Accelerator

logger = logging.getLogger(__name__)

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def list_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``output_dir`` as ``(step, path)``, oldest first (``.tmp`` folders excluded)."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := CHECKPOINT_RE.match(p.name))]
    return sorted(found)


def resolve_resume(resume: str | None, output_dir: str | Path) -> tuple[Path | None, int]:
    """``--resume_from_checkpoint`` → (folder, global step). ``"latest"`` with no checkpoint starts fresh."""
    if not resume:
        return None, 0
    if resume == "latest":
        checkpoints = list_checkpoints(output_dir)
        if not checkpoints:
            logger.info("no checkpoint in %s: starting a new run", output_dir)
            return None, 0
        step, path = checkpoints[-1]
        return path, step
    path = Path(resume)
    if not path.is_dir() and (Path(output_dir) / resume).is_dir():
        path = Path(output_dir) / resume
    match = CHECKPOINT_RE.match(path.name)
    if not path.is_dir() or not match:
        raise FileNotFoundError(f"checkpoint {resume!r} not found (expected a folder named checkpoint-<step>)")
    return path, int(match.group(1))


def save_checkpoint(accelerator: Accelerator, output_dir: str | Path, step: int, total_limit: int | None) -> Path:
    """Write ``checkpoint-{step}`` atomically; keep at most ``total_limit`` checkpoints. Call on every rank."""
    root = Path(output_dir)
    final, tmp = root / f"checkpoint-{step}", root / f"checkpoint-{step}.tmp"
    if accelerator.is_main_process:
        for stale in root.glob("checkpoint-*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        if total_limit is not None and total_limit > 0:
            old = [p for s, p in list_checkpoints(root) if s != step]
            for _, path in zip(range(len(old) - total_limit + 1), old):
                logger.info("removing old checkpoint %s", path)
                shutil.rmtree(path)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        logger.info("saved %s", final)
    accelerator.wait_for_everyone()
    return final


def carry_checkpoint(src: str | Path, dst_dir: str | Path) -> Path:
    """Copy checkpoint ``src`` into ``dst_dir`` at its size for carrying to another machine (or into git).

    Kept exactly: the models, EMA, schedulers, RNG states and :class:`TrainState`, so ``--resume_from_checkpoint
    latest`` in ``dst_dir`` resumes at the same step on the same data stream. Dropped: the optimisers' moment
    estimates (about half of a checkpoint; the resumed Adam starts them afresh, as after a warm restart) and the
    ``generator/``, ``discriminator/`` copies in ``from_pretrained`` form (they duplicate the model files).
    """
    src = Path(src)
    if not CHECKPOINT_RE.match(src.name) or not (src / "model.safetensors").is_file():
        raise FileNotFoundError(f"{src}: expected a complete checkpoint folder checkpoint-<step> with model.safetensors")
    dst = Path(dst_dir) / src.name
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for path in sorted(src.iterdir()):
        if path.is_dir():
            continue
        if path.name.startswith("optimizer") and path.suffix == ".bin":
            state = torch.load(path, map_location="cpu", weights_only=True)
            torch.save({"state": {}, "param_groups": state["param_groups"]}, tmp / path.name)
        else:
            shutil.copy2(path, tmp / path.name)
    if dst.exists():
        shutil.rmtree(dst)
    os.replace(tmp, dst)
    return dst


class TrainState:
    """Scalars that must survive a resume (e.g. the path-length mean), registered with ``accelerate``."""

    def __init__(self, **values: float):
        self.values = dict(values)

    def __getitem__(self, key: str) -> float:
        return self.values[key]

    def __setitem__(self, key: str, value: float) -> None:
        self.values[key] = float(value)

    def state_dict(self) -> dict[str, float]:
        return dict(self.values)

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.values.update(state)


def make_ema(model: torch.nn.Module, decay: float):
    """diffusers ``EMAModel`` over ``model``'s parameters (its own 1+t/10+t warm-up keeps early steps sane)."""
    from diffusers.training_utils import EMAModel

    return EMAModel(model.parameters(), decay=decay, foreach=True)


def requires_grad(module: torch.nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def parameter_digest(module: torch.nn.Module) -> str:
    """SHA-256 of all parameters' bytes: equal digests on every rank prove DDP kept the replicas identical."""
    import hashlib

    h = hashlib.sha256()
    for name, p in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
