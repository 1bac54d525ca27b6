"""Pieces both training stages share: accelerator set-up, GAN optimisers, resume, logging, validation images.

Both stages do one ``accelerator.accumulate(G, D)`` per micro-batch with *simultaneous* G and D updates:
one G forward and one D forward per image set, then ``backward(g_loss, inputs=G params)`` and
``backward(d_loss, inputs=D params)`` on the same graph. That saves the second G forward and the extra D
passes of alternating updates (about a third of the step on CPU), and under DDP each model gets exactly one
reduction per step, also with frozen parameters (they are simply not in ``inputs`` nor in DDP's buckets).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration, set_seed
from tqdm.auto import tqdm

from .checkpointing import parameter_digest, resolve_resume, save_checkpoint
from .losses import lazy_adam_hparams

logger = logging.getLogger(__name__)


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Options shared by both stages (diffusers-examples names)."""
    a = parser.add_argument
    a("--train_data_dir", required=True, nargs="+",
      help="Sources of aligned square faces of any size: folders (searched recursively) or .txt/.csv manifests.")
    a("--source_weights", type=float, nargs="+", default=None,
      help="One weight per --train_data_dir source: mean appearances of each of its faces per epoch (default 1).")
    a("--manifest_filter", nargs="+", default=None, metavar="COLUMN=VALUE", type=column_value,
      help="For .csv manifests: only rows whose columns hold these values, e.g. split=train kind=aligned_face.")
    a("--output_dir", required=True, help="Where checkpoints, logs, validation images and the final model go.")
    a("--resolution", type=int, default=128, help="Training resolution (power of two).")
    a("--train_batch_size", type=int, default=8, help="Batch size per process.")
    a("--gradient_accumulation_steps", type=int, default=1, help="Micro-batches per optimiser step.")
    a("--max_train_steps", type=int, default=10000, help="Total optimiser steps.")
    a("--stop_after_steps", type=int, default=None,
      help="Leave after this many steps of *this* invocation, writing a checkpoint (for job time limits; "
           "continue with --resume_from_checkpoint latest).")
    a("--learning_rate", type=float, default=2e-3, help="Adam learning rate of G and D (StyleGAN2/GPEN: 0.002).")
    a("--adam_beta1", type=float, default=0.0, help="Adam beta1 (StyleGAN2: 0).")
    a("--adam_beta2", type=float, default=0.99, help="Adam beta2 (StyleGAN2: 0.99).")
    a("--lr_scheduler", default="constant", help='diffusers scheduler name: "constant", "linear", "cosine", ...')
    a("--lr_warmup_steps", type=int, default=0, help="Warm-up steps of the scheduler.")
    a("--r1_gamma", type=float, default=10.0, help="R1 weight gamma (0 disables).")
    a("--r1_every", type=int, default=16, help="Lazy R1: apply every this many steps (scaled accordingly).")
    a("--use_ema", action="store_true", help="Keep an EMA of the generator; validate and save it.")
    a("--ema_decay", type=float, default=0.5 ** (32 / 10000),
      help="EMA decay (default: the authors' 0.5**(32/10k), i.e. 10k images half-life at batch 32).")
    a("--mixed_precision", choices=["no", "bf16", "fp16"], default=None,
      help="Autocast precision (default: accelerate's config; on CPU bf16 is slower than fp32 without "
           "AVX-512-BF16/AMX, see benchmarks/bench_train.py).")
    a("--checkpointing_steps", type=int, default=500, help="Save a resumable checkpoint every N steps.")
    a("--checkpoints_total_limit", type=int, default=None, help="Keep at most this many checkpoints.")
    a("--resume_from_checkpoint", default=None,
      help='A checkpoint folder, or "latest" (starts fresh when there is none).')
    a("--validation_steps", type=int, default=500, help="Log validation images/metrics every N steps (0: off).")
    a("--num_validation_images", type=int, default=4, help="Images in the validation grid.")
    a("--logging_steps", type=int, default=10, help="Log losses every N steps.")
    a("--report_to", default="tensorboard", help='"tensorboard", "wandb", "all" or "none".')
    a("--seed", type=int, default=0, help="Seed of the data stream, degradations and initialisation.")
    a("--dataloader_num_workers", type=int, default=1,
      help="Data worker processes (one keeps degradation off the critical path on a 2-core CPU).")
    a("--num_threads", type=int, default=None,
      help="torch threads per process (default: $OMP_NUM_THREADS if set, else CPU cores minus data workers).")
    a("--push_to_hub", action="store_true", help="Upload the final folder to the Hub.")
    a("--hub_model_id", default=None, help="Hub repository for --push_to_hub (default: output_dir's name).")
    a("--hub_token", default=None, help="Hub token (default: the cached login).")


def column_value(text: str) -> tuple[str, str]:
    """argparse type of ``--manifest_filter``: ``COLUMN=VALUE``."""
    column, sep, value = text.partition("=")
    if not sep or not column:
        raise argparse.ArgumentTypeError(f"expected COLUMN=VALUE, got {text!r}")
    return column, value


def default_num_threads(requested: int | None = None) -> int:
    """Intra-op threads: ``requested``, else the machine's cores shared by the processes on this node.

    ``accelerate launch`` and ``torchrun`` export OMP_NUM_THREADS=1 even for a single process, which halves
    CPU training speed on 2 cores, so it is not trusted here. The degradation worker is light (~800 faces/s
    at 128 px): on an idle 2-core machine, stage 2 at 128 px ran at 4.3 images/s with 2 threads vs 2.5 with 1.
    On a machine busy with other jobs, fewer threads avoid OpenMP oversubscription: pass --num_threads.
    """
    if requested:
        return requested
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, (os.cpu_count() or 1) // max(1, local_processes))


def make_accelerator(args: argparse.Namespace) -> Accelerator:
    """Accelerator with project/logging dirs, the precision and accumulation asked for; seeds everything."""
    torch.set_num_threads(default_num_threads(args.num_threads))
    report_to = None if args.report_to == "none" else args.report_to
    # plain `torchrun` on a machine without GPUs: accelerate only picks gloo multi-CPU when told cpu=True
    multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    accelerator = Accelerator(
        cpu=multi_cpu,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=report_to,
        project_config=ProjectConfiguration(project_dir=args.output_dir,
                                            logging_dir=str(Path(args.output_dir) / "logs")),
        kwargs_handlers=[DistributedDataParallelKwargs(broadcast_buffers=False)],
    )
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO
                        if accelerator.is_main_process else logging.WARNING)
    if accelerator.is_main_process:
        Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    set_seed(args.seed, device_specific=True)  # different z / noise per rank, reproducible
    return accelerator


def simultaneous_update(accelerator: Accelerator, generator: tuple, discriminator: tuple) -> None:
    """Back-propagate each ``(loss, params, optimizer, scheduler)`` into its own parameters, then step both.

    One graph serves both losses (``retain_graph`` for the first): see the module docstring.
    """
    (g_loss, g_params, *_), (d_loss, d_params, *_) = generator, discriminator
    accelerator.backward(g_loss, inputs=g_params, retain_graph=True)
    accelerator.backward(d_loss, inputs=d_params)
    for _, _, optimizer, scheduler in (generator, discriminator):
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)


def make_adam(params, args: argparse.Namespace, reg_every: int) -> torch.optim.Adam:
    """Adam with StyleGAN2's lazy-regularisation correction of lr and betas."""
    lr, betas = lazy_adam_hparams(args.learning_rate, (args.adam_beta1, args.adam_beta2), reg_every)
    return torch.optim.Adam([p for p in params if p.requires_grad], lr=lr, betas=betas)


def make_scheduler(optimizer: torch.optim.Optimizer, args: argparse.Namespace, num_processes: int):
    """diffusers scheduler; steps are counted ×num_processes because accelerate steps it once per process."""
    from diffusers.optimization import get_scheduler

    return get_scheduler(args.lr_scheduler, optimizer, num_warmup_steps=args.lr_warmup_steps * num_processes,
                         num_training_steps=args.max_train_steps * num_processes)


def resume(accelerator: Accelerator, args: argparse.Namespace) -> int:
    """Load ``--resume_from_checkpoint`` (models, optimisers, schedulers, EMA, RNG); return the global step."""
    path, step = resolve_resume(args.resume_from_checkpoint, args.output_dir)
    if path is not None:
        logger.info("resuming from %s (step %d)", path, step)
        accelerator.load_state(str(path))
    return step


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
    ends the run early); then the run's summary. ``postfix`` maps progress-bar labels to logged term names."""

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
        if step % args.checkpointing_steps == 0 or (step == self.last_step < args.max_train_steps):
            save_checkpoint(self.accelerator, args.output_dir, step, args.checkpoints_total_limit)
        return step

    def summary(self, discriminator: torch.nn.Module) -> dict[str, float]:
        """Final step, rank, weight digests (for resume/DDP checks), images/s and the last logged terms."""
        self.bar.close()
        unwrap = self.accelerator.unwrap_model
        return {"step": self.global_step, "rank": self.accelerator.process_index,
                "generator_digest": parameter_digest(unwrap(self.model)),
                "discriminator_digest": parameter_digest(unwrap(discriminator)),
                "images_per_second": self.speed.images_per_second,
                **{k: v for k, v in self.logs.items() if not math.isnan(v)}}


def push_to_hub(args: argparse.Namespace) -> None:
    """Upload ``output_dir`` (without checkpoints and logs) to ``--hub_model_id``."""
    from huggingface_hub import create_repo, upload_folder

    repo_id = create_repo(args.hub_model_id or Path(args.output_dir).name, exist_ok=True, token=args.hub_token).repo_id
    upload_folder(repo_id=repo_id, folder_path=args.output_dir, token=args.hub_token,
                  ignore_patterns=["checkpoint-*", "logs/*", "validation/*"])
