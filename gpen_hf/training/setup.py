"""Everything a training stage does before its loop: options, the accelerator, and the GAN set-up both stages share
(optimisers, schedulers, ``prepare``, EMA, state, checkpoint hook, resume, trackers, data loader).

Both stages do one ``accelerator.accumulate(G, D)`` per micro-batch with *simultaneous* G and D updates:
one G forward and one D forward per image set, then ``backward(g_loss, inputs=G params)`` and
``backward(d_loss, inputs=D params)`` on the same graph. That saves the second G forward and the extra D
passes of alternating updates (about a third of the step on CPU), and under DDP each model gets exactly one
reduction per step, also with frozen parameters (they are simply not in ``inputs`` nor in DDP's buckets).

What accelerate checkpoints hold, and in which order, is fixed by :func:`prepare_gan` (``model``/``model_1`` =
G/D, ``optimizer``/``optimizer_1``, ``scheduler``/``scheduler_1``, then the EMA if any and the
:class:`~.checkpointing.TrainState`): a checkpoint of either stage resumes only with that order.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration, set_seed

from gpen_hf.models import StyleGAN2Prior
from gpen_hf.models.stylegan2 import NOISE_MODES

from .checkpointing import TrainState, make_ema, resolve_resume
from .data import make_loader
from .losses import lazy_adam_hparams
from .progress import save_pretrained_with_checkpoints

logger = logging.getLogger(__name__)

#: the architecture options of both stages' command lines (``resolution`` is a common option)
ARCHITECTURE_OPTIONS = ("style_dim", "n_mlp", "channel_multiplier", "narrow", "noise_mode")
_ARCHITECTURE_HELP = {
    "style_dim": "size of z and w", "n_mlp": "mapping-network depth",
    "channel_multiplier": "StyleGAN2 width factor for >= 64 px", "narrow": "global width factor (GPEN-BFR-256: 0.5)",
    "noise_mode": "how encoder features enter the decoder (paper: concat; add/none are its ablations)",
}


def architecture_defaults() -> dict[str, Any]:
    """The architecture's config keys and defaults: those of the prior's (= GPEN's decoder's) ``__init__``, so
    the model's config is the one place they are written."""
    params = inspect.signature(StyleGAN2Prior.__init__).parameters
    return {name: p.default for name, p in params.items() if name != "self"}


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
    a("--lr_warmup_steps", type=int, default=0, help="Warm-up steps of the scheduler (G and D).")
    a("--g_warmup_steps", type=int, default=0,
      help="Ramp only G's learning rate up from 0 over the first N steps, D at full rate from the start: a prior "
           "grown with --init_from then keeps what it learned while D's new layers are still random.")
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


def add_architecture_args(parser: argparse.ArgumentParser, new_models_only: bool = False) -> None:
    """``--style_dim`` ... ``--noise_mode`` with the model's defaults; ``new_models_only``: default None (a loaded
    prior or model decides; a new model gets the defaults)."""
    defaults = architecture_defaults()
    for name in ARCHITECTURE_OPTIONS:
        default = defaults[name]
        kind = {"choices": list(NOISE_MODES)} if name == "noise_mode" else {"type": type(default)}
        text = f"{_ARCHITECTURE_HELP[name]} (default {default})."
        if new_models_only:
            text = ("must match a loaded prior/model; " if name == "noise_mode" else "new models only: ") + text
        text = text[0].upper() + text[1:]
        parser.add_argument(f"--{name}", default=None if new_models_only else default, help=text, **kind)


def make_adam(params, args: argparse.Namespace, reg_every: int) -> torch.optim.Adam:
    """Adam with StyleGAN2's lazy-regularisation correction of lr and betas."""
    lr, betas = lazy_adam_hparams(args.learning_rate, (args.adam_beta1, args.adam_beta2), reg_every)
    return torch.optim.Adam([p for p in params if p.requires_grad], lr=lr, betas=betas)


def make_scheduler(optimizer: torch.optim.Optimizer, args: argparse.Namespace, num_processes: int,
                   warmup_steps: int | None = None):
    """diffusers scheduler with ``warmup_steps`` (default ``--lr_warmup_steps``) of linear warm-up ("constant"
    warms up too); steps are counted ×num_processes because accelerate steps it once per process."""
    from diffusers.optimization import get_scheduler

    warmup = args.lr_warmup_steps if warmup_steps is None else warmup_steps
    name = "constant_with_warmup" if args.lr_scheduler == "constant" and warmup > 0 else args.lr_scheduler
    return get_scheduler(name, optimizer, num_warmup_steps=warmup * num_processes,
                         num_training_steps=args.max_train_steps * num_processes)


def resume(accelerator: Accelerator, args: argparse.Namespace) -> int:
    """Load ``--resume_from_checkpoint`` (models, optimisers, schedulers, EMA, RNG); return the global step."""
    path, step = resolve_resume(args.resume_from_checkpoint, args.output_dir)
    if path is not None:
        logger.info("resuming from %s (step %d)", path, step)
        accelerator.load_state(str(path))
    return step


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



@dataclass
class GANRun:
    """What :func:`prepare_gan` returns: the prepared models, their parameters, optimisers and schedulers, the
    EMA of G (or None), the resumable state and the step the run starts at."""

    accelerator: Accelerator
    args: argparse.Namespace
    generator: torch.nn.Module
    discriminator: torch.nn.Module
    g_params: list[torch.nn.Parameter]
    d_params: list[torch.nn.Parameter]
    g_opt: torch.optim.Optimizer
    d_opt: torch.optim.Optimizer
    g_sched: Any
    d_sched: Any
    ema: Any
    state: TrainState
    global_step: int

    def batches(self, data) -> Iterator[dict[str, torch.Tensor]]:
        """This rank's batches of ``data``, continuing where the resumed run stopped."""
        args = self.args
        return make_loader(data, args.train_batch_size, self.accelerator.process_index,
                           self.accelerator.num_processes, start_batch=self.global_step * args.gradient_accumulation_steps,
                           num_workers=args.dataloader_num_workers)

    def update(self, g_loss: torch.Tensor, d_loss: torch.Tensor) -> None:
        """One simultaneous G and D update (see :func:`simultaneous_update`)."""
        simultaneous_update(self.accelerator, (g_loss, self.g_params, self.g_opt, self.g_sched),
                            (d_loss, self.d_params, self.d_opt, self.d_sched))


def prepare_gan(accelerator: Accelerator, args: argparse.Namespace, generator: torch.nn.Module,
                discriminator: torch.nn.Module, state: TrainState, g_reg_every: int, project: str) -> GANRun:
    """The set-up both stages share, in the order their checkpoints depend on: Adam for G (its trainable
    parameters; lazy-regularised every ``g_reg_every`` steps) and D (lazy R1), the schedulers, ``prepare``, the
    EMA of G (``--use_ema``) and ``state`` registered for checkpointing, every checkpoint also saved in
    ``save_pretrained`` form, ``--resume_from_checkpoint``, and the trackers (``project``)."""
    g_params = [p for p in generator.parameters() if p.requires_grad]
    d_params = list(discriminator.parameters())
    g_opt = make_adam(g_params, args, reg_every=g_reg_every)
    d_opt = make_adam(d_params, args, reg_every=args.r1_every if args.r1_gamma > 0 else 0)
    g_sched = make_scheduler(g_opt, args, accelerator.num_processes,
                             warmup_steps=max(args.lr_warmup_steps, args.g_warmup_steps))
    d_sched = make_scheduler(d_opt, args, accelerator.num_processes)
    generator, discriminator, g_opt, d_opt, g_sched, d_sched = accelerator.prepare(
        generator, discriminator, g_opt, d_opt, g_sched, d_sched)
    ema = None
    if args.use_ema:
        ema = make_ema(accelerator.unwrap_model(generator), args.ema_decay)
        ema.to(accelerator.device)
        accelerator.register_for_checkpointing(ema)
    accelerator.register_for_checkpointing(state)
    save_pretrained_with_checkpoints(accelerator, generator, ema, discriminator)
    global_step = resume(accelerator, args)
    if accelerator.is_main_process:
        accelerator.init_trackers(project, config={k: v for k, v in vars(args).items()
                                                   if isinstance(v, (int, float, str, bool))})
    return GANRun(accelerator, args, generator, discriminator, g_params, d_params, g_opt, d_opt, g_sched, d_sched,
                  ema, state, global_step)
