"""What a training stage does after each optimiser step and at its end: EMA update, step count, loss logging,
checkpoints, validation grids, the final ``save_pretrained`` folders, the run's summary and the Hub upload.

The summary (final step, images/s, the last logged terms, and each process's weight digests) is written to
``output_dir/summary.json`` (:data:`SUMMARY_FILE`) at the end of every invocation, also one that stopped early;
scripts and tests read it with :func:`read_summary`.

Both stages save the same layout, in each checkpoint and at the end: ``generator/`` (the weights to use: the EMA
ones with ``--use_ema``) and ``discriminator/``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from ..distributed import all_gather_objects
from .checkpointing import parameter_digest, save_checkpoint
from .interrupts import SIGTERM_EXIT_STATUS, CheckpointSignals

logger = logging.getLogger(__name__)

#: the run's summary, in its output folder
SUMMARY_FILE = "summary.json"


def read_summary(output_dir: str | Path) -> dict:
    """The summary the last invocation of a training stage wrote into ``output_dir``."""
    path = Path(output_dir) / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: the run in {output_dir} has not finished")
    return json.loads(path.read_text())


def to_uint8_grid(rows: list[torch.Tensor]) -> np.ndarray:
    """Rows of (N, 3, H, W) images in [-1, 1] → one H×W×3 uint8 grid (rows stacked, samples side by side)."""
    lines = [torch.cat(list(r.detach().float().cpu().clamp(-1, 1)), dim=2) for r in rows]
    grid = torch.cat(lines, dim=1)
    return ((grid + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()


def log_grid(accelerator: Accelerator, args: argparse.Namespace, grid: np.ndarray, step: int, name: str) -> None:
    """Save the grid as ``output_dir/validation/{name}-{step}.png`` and send it to tensorboard if used."""
    from PIL import Image

    out = Path(args.output_dir) / "validation"
    out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(out / f"{name}-{step:07d}.png")
    for tracker in accelerator.trackers:
        if tracker.name == "tensorboard":
            tracker.log_images({name: grid[None]}, step=step, dataformats="NHWC")


class Throughput:
    """Images/s of the optimiser steps after the first ``warmup`` ones (start-up and allocations excluded)."""

    def __init__(self, images_per_step: int, warmup: int = 2):
        self.images_per_step, self.warmup = images_per_step, warmup
        self.steps, self.start = 0, None

    def tick(self) -> None:
        self.steps += 1
        if self.steps == self.warmup:
            self.start = time.perf_counter()

    @property
    def images_per_second(self) -> float:
        timed = self.steps - self.warmup
        if self.start is None or timed <= 0:
            return math.nan
        return timed * self.images_per_step / (time.perf_counter() - self.start)


class ema_weights:
    """Context manager: ``model`` holds the EMA weights inside, its own ones again after (no-op without EMA)."""

    def __init__(self, ema, model: torch.nn.Module):
        self.ema, self.model = ema, model

    def __enter__(self) -> None:
        if self.ema is not None:
            self.ema.store(self.model.parameters())
            self.ema.copy_to(self.model.parameters())

    def __exit__(self, *exc) -> None:
        if self.ema is not None:
            self.ema.restore(self.model.parameters())


def save_pretrained_models(accelerator: Accelerator, model: torch.nn.Module, ema,
                           discriminator: torch.nn.Module | None, folder: str | Path) -> None:
    """``folder/generator`` (the generator as the run would ship it: EMA weights if used) and
    ``folder/discriminator`` in ``save_pretrained`` form: what a run's output and each checkpoint hold."""
    generator = accelerator.unwrap_model(model)
    with ema_weights(ema, generator):
        generator.save_pretrained(Path(folder) / "generator")
    if discriminator is not None:
        accelerator.unwrap_model(discriminator).save_pretrained(Path(folder) / "discriminator")


def save_pretrained_with_checkpoints(accelerator: Accelerator, model: torch.nn.Module, ema,
                                     discriminator: torch.nn.Module | None = None) -> None:
    """Every checkpoint also gets :func:`save_pretrained_models`' folders. So any checkpoint can be evaluated
    or restored with (``gpen-hf evaluate --model RUN/checkpoint-N/generator``) and is a start folder for a new
    run (``--pretrained_model_name_or_path RUN/checkpoint-N``); accelerate's own files still drive resuming."""

    def hook(models, weights, output_dir: str) -> None:
        if accelerator.is_main_process:
            save_pretrained_models(accelerator, model, ema, discriminator, output_dir)

    accelerator.register_save_state_pre_hook(hook)


class TrainingProgress:
    """What both stages do after each optimiser step: EMA update, step count, progress bar, loss logging
    every ``--logging_steps`` and a checkpoint every ``--checkpointing_steps`` (and when ``--stop_after_steps``
    ends the run early, or when a signal asks for one: :mod:`.interrupts`); then the run's summary. ``postfix``
    maps progress-bar labels to logged term names."""

    def __init__(self, accelerator: Accelerator, args: argparse.Namespace, model: torch.nn.Module, ema,
                 global_step: int, postfix: dict[str, str]):
        self.accelerator, self.args, self.model, self.ema = accelerator, args, model, ema
        self.global_step, self.postfix = global_step, postfix
        self.last_step = args.max_train_steps
        if args.stop_after_steps is not None:
            self.last_step = min(self.last_step, global_step + args.stop_after_steps)
        self.speed = Throughput(args.train_batch_size * accelerator.num_processes * args.gradient_accumulation_steps)
        self.bar = tqdm(total=self.last_step, initial=global_step, disable=not accelerator.is_main_process, desc="steps")
        self.logs: dict[str, float] = {}
        self.signals = CheckpointSignals(accelerator)
        self.stopped_by_signal = False

    @property
    def running(self) -> bool:
        return self.global_step < self.last_step

    def step(self, terms: dict[str, torch.Tensor | float]) -> int:
        """Book one finished optimiser step; ``terms`` (loss terms etc.) are logged when it is time."""
        if self.ema is not None:
            self.ema.step(self.accelerator.unwrap_model(self.model).parameters())
        self.global_step += 1
        self.speed.tick()
        self.bar.update(1)
        step, args = self.global_step, self.args
        if step % args.logging_steps == 0 or step == self.last_step:
            self.logs = {f"train/{k}": float(v.detach() if isinstance(v, torch.Tensor) else v) for k, v in terms.items()}
            self.accelerator.log(self.logs, step=step)
            self.bar.set_postfix({short: f"{self.logs[f'train/{key}']:.3f}" for short, key in self.postfix.items()})
        checkpoint_asked, stop_asked = self.signals.poll()
        if stop_asked and step < self.last_step:
            logger.info("SIGTERM: checkpoint at step %d, then stop", step)
            self.last_step, self.stopped_by_signal = step, True
        elif checkpoint_asked:
            logger.info("SIGUSR1: checkpoint at step %d", step)
        if (step % args.checkpointing_steps == 0 or (step == self.last_step < args.max_train_steps)
                or checkpoint_asked):
            save_checkpoint(self.accelerator, args.output_dir, step, args.checkpoints_total_limit)
        return step

    def finish(self, discriminator: torch.nn.Module) -> dict:
        """End the run on every rank: once all ranks are here, :func:`save_final` (main process, when the run
        reached ``--max_train_steps``), then write the run's summary to ``output_dir/summary.json`` (main
        process), end the trackers and the process group, and return the summary: final step, images/s and the
        last logged terms of the main process, and under ``processes`` each process's rank and weight digests
        (equal digests on every rank: DDP kept the replicas identical; equal to another run's: the same
        weights, as when a resumed run is checked against an uninterrupted one). A run stopped by SIGTERM
        exits with status 143 after all that (:mod:`.interrupts`)."""
        accelerator = self.accelerator
        self.signals.restore()
        accelerator.wait_for_everyone()
        if accelerator.is_main_process and self.global_step >= self.args.max_train_steps:
            save_final(accelerator, self.model, discriminator, self.ema, self.args)
        self.bar.close()
        unwrap = accelerator.unwrap_model
        mine = {"rank": accelerator.process_index,
                "generator_digest": parameter_digest(unwrap(self.model)),
                "discriminator_digest": parameter_digest(unwrap(discriminator))}
        summary = {"step": self.global_step, **mine, "images_per_second": self.speed.images_per_second,
                   **{k: v for k, v in self.logs.items() if not math.isnan(v)},
                   "processes": all_gather_objects(mine)}
        if accelerator.is_main_process:
            path = Path(self.args.output_dir) / SUMMARY_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(summary, indent=1) + "\n")
            logger.info("step %d, %.2f images/s; summary in %s", self.global_step, summary["images_per_second"], path)
        accelerator.end_training()
        if self.stopped_by_signal:
            raise SystemExit(SIGTERM_EXIT_STATUS)
        return summary


def push_to_hub(args: argparse.Namespace) -> None:
    """Upload ``output_dir`` (without checkpoints and logs) to ``--hub_model_id``."""
    from huggingface_hub import create_repo, upload_folder

    repo_id = create_repo(args.hub_model_id or Path(args.output_dir).name, exist_ok=True, token=args.hub_token).repo_id
    upload_folder(repo_id=repo_id, folder_path=args.output_dir, token=args.hub_token,
                  ignore_patterns=["checkpoint-*", "logs/*", "validation/*", SUMMARY_FILE])


def save_final(accelerator: Accelerator, model: torch.nn.Module, discriminator: torch.nn.Module, ema,
               args: argparse.Namespace) -> None:
    """The run's output: ``output_dir/generator`` (EMA weights if used) and ``output_dir/discriminator``, then
    the Hub upload if asked for. Main process only."""
    save_pretrained_models(accelerator, model, ema, discriminator, args.output_dir)
    if args.push_to_hub:
        push_to_hub(args)
