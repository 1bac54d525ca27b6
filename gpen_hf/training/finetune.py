"""Stage 2 (GPEN fine-tuning) training loop; ``training/finetune.py`` is its command line.

Loss as in the paper: G minimises L_A + alpha·L_C + beta·L_F (+ ``identity_weight`` × the identity term on the
shipped face descriptor, off by default), D the logistic loss + lazy R1. Each weighted term's share of the
generator loss is logged (``share_*``, running means over about 100 steps) and ends up in ``summary.json``.
LPIPS is only logged on the validation pairs: it is the evaluation's judge, never a training loss.
"""

from __future__ import annotations

import argparse
import logging

import torch

from gpen_hf.hub import resolve
from gpen_hf.models import GPENDiscriminator, GPENModel

from .checkpointing import TrainState, requires_grad
from .data import DegradedPairStream
from .losses import RunningShares, d_logistic_loss, gpen_generator_loss, identity_loss, r1_penalty
from .prior import config_mismatches, gpen_from_prior
from .progress import TrainingProgress, ema_weights, log_grid, to_uint8_grid
from .setup import ARCHITECTURE_OPTIONS, make_accelerator, prepare_gan

logger = logging.getLogger(__name__)

#: AlexNet (LPIPS) pools its input away below this size
LPIPS_MIN_RESOLUTION = 32
#: the face descriptor of the identity term needs faces of at least this size
IDENTITY_MIN_RESOLUTION = 64
#: decay of the running means behind the logged loss shares (~100 steps)
SHARE_DECAY = 0.99


def build_models(args: argparse.Namespace) -> tuple[GPENModel, GPENDiscriminator]:
    """GPENModel from --pretrained_model_name_or_path, or from --pretrained_prior, or new; and its D."""
    arch = {k: getattr(args, k) for k in ("resolution", *ARCHITECTURE_OPTIONS)}
    disc = None
    if args.pretrained_model_name_or_path:
        src = args.pretrained_model_name_or_path
        found = resolve(src)  # a run/checkpoint folder, a model folder, a registry name, a Hub id or a .pth
        model = GPENModel.from_pretrained(src, subfolder=found.model_subfolder)
        clashes = config_mismatches(model.config, {k: v for k, v in arch.items() if v is not None and k != "resolution"})
        if clashes or model.config.resolution != args.resolution:
            theirs, asked = ({k: pair[i] for k, pair in clashes.items()} for i in (0, 1))
            raise ValueError(f"{src} has {theirs} and resolution {model.config.resolution}; the options ask for "
                             f"{asked}, {args.resolution}")
        if found.holds("discriminator"):
            disc = GPENDiscriminator.from_pretrained(src, subfolder="discriminator")
        else:
            logger.warning(f"{src} has no discriminator/ folder: the discriminator starts from random weights")
    elif args.pretrained_prior:
        model, disc = gpen_from_prior(args.pretrained_prior, **arch)
    else:
        logger.warning("no --pretrained_prior or --pretrained_model_name_or_path: training GPEN from scratch, "
                       "without the GAN prior the paper relies on")
        model = GPENModel(**{k: v for k, v in arch.items() if v is not None})
    if disc is None:
        disc = GPENDiscriminator(resolution=model.config.resolution, narrow=model.config.narrow,
                                 channel_multiplier=model.config.channel_multiplier)
    return model, disc


def freeze_decoder(model: GPENModel) -> None:
    """Paper ablation "w/o fine-tuning the prior": mapping + synthesis frozen; the encoder, its latent head
    and the noise-injection scales (the entry points of the encoder features) still train."""
    requires_grad(model.generator, False)
    for name, p in model.generator.named_parameters():
        if ".noise." in f".{name}":
            p.requires_grad_(True)


class Validator:
    """Fixed LQ/HQ pairs; logs an HQ | LQ | restored grid, PSNR and (if available) LPIPS."""

    def __init__(self, args: argparse.Namespace):
        if args.validation_data_dir:
            data = DegradedPairStream(args.validation_data_dir, args.resolution, seed=args.seed + 10_000,
                                      preset=args.degradation_preset)
        else:
            data = DegradedPairStream(args.train_data_dir, args.resolution, seed=args.seed + 10_000,
                                      preset=args.degradation_preset, manifest_filter=dict(args.manifest_filter or ()))
        items = [data[i] for i in range(args.num_validation_images)]
        self.target = torch.stack([it["target"] for it in items])
        self.lq = torch.stack([it["lq"] for it in items])
        self.lpips = None
        if args.resolution < LPIPS_MIN_RESOLUTION:
            return
        try:  # lazily: gpen_hf.metrics is optional for training
            from gpen_hf.metrics.lpips import LPIPS

            self.lpips = LPIPS()
        except (ImportError, FileNotFoundError) as err:
            logger.info("LPIPS unavailable (%s): validation logs PSNR only", err)

    @torch.no_grad()
    def __call__(self, accelerator, model: GPENModel, args: argparse.Namespace, step: int) -> dict[str, float]:
        device = accelerator.device
        with accelerator.autocast():
            restored = model(self.lq.to(device)).sample.float().clamp(-1, 1).cpu()
        mse = ((restored - self.target) / 2).pow(2).flatten(1).mean(1)
        metrics = {"val/psnr": float((10 * torch.log10(1 / mse.clamp_min(1e-10))).mean())}
        if self.lpips is not None:
            metrics["val/lpips"] = float(self.lpips(restored, self.target).mean())
        log_grid(accelerator, args, to_uint8_grid([self.target, self.lq, restored]), step, "hq_lq_restored")
        return metrics


def run(args: argparse.Namespace) -> dict:
    """Train; returns the summary it writes to ``output_dir/summary.json``."""
    accelerator = make_accelerator(args)
    model, disc = build_models(args)
    if args.freeze_decoder:
        freeze_decoder(model)
    descriptor = None
    if args.identity_weight > 0:
        if args.resolution < IDENTITY_MIN_RESOLUTION:
            raise ValueError(f"--identity_weight needs --resolution >= {IDENTITY_MIN_RESOLUTION} (the face "
                             f"descriptor's smallest input), got {args.resolution}")
        from gpen_hf.metrics.identity import FaceRecognitionNet

        descriptor = FaceRecognitionNet().to(accelerator.device)
    gan = prepare_gan(accelerator, args, model, disc, TrainState(step=0), g_reg_every=0, project="gpen_finetune")
    model, disc = gan.generator, gan.discriminator
    data = DegradedPairStream(args.train_data_dir, args.resolution, seed=args.seed, preset=args.degradation_preset,
                              flip_prob=0.5 if args.random_flip else 0.0, jitter=args.random_jitter,
                              source_weights=args.source_weights, manifest_filter=dict(args.manifest_filter or ()))
    batches = gan.batches(data)
    validator = Validator(args) if accelerator.is_main_process and args.validation_steps > 0 else None
    progress = TrainingProgress(accelerator, args, model, gan.ema, gan.global_step,
                                postfix={"g": "loss", "d": "d_loss"})
    logger.info("%d faces, total batch %d, steps %d → %d", len(data), progress.speed.images_per_step,
                gan.global_step, progress.last_step)
    shares = RunningShares(SHARE_DECAY)
    while progress.running:
        batch = next(batches)
        target, lq = batch["target"].to(accelerator.device), batch["lq"].to(accelerator.device)
        do_r1 = args.r1_gamma > 0 and progress.global_step % args.r1_every == 0
        with accelerator.accumulate(model, disc):
            target.requires_grad_(do_r1)
            real = disc(target, return_features=args.beta > 0)
            restored = model(lq).sample
            fake = disc(restored, return_features=args.beta > 0)
            g_terms = gpen_generator_loss(fake.logits, restored, target.detach(), fake.features or (),
                                          real.features or (), args.alpha, args.beta)
            weighted = {"adv": g_terms["adv"], "content": args.alpha * g_terms["content"],
                        "fm": args.beta * g_terms["fm"]}
            g_loss = g_terms["loss"]
            if descriptor is not None:
                g_terms["identity"] = identity_loss(restored, target.detach(), descriptor)
                weighted["identity"] = args.identity_weight * g_terms["identity"]
                g_loss = g_loss + weighted["identity"]
            d_loss = d_logistic_loss(real.logits, fake.logits)
            if do_r1:  # `+ 0 * output`: the DDP workaround explained in pretrain.run
                r1 = r1_penalty(real.logits, target)
                d_loss = d_loss + args.r1_gamma / 2 * r1 * args.r1_every + 0 * real.logits[0, 0]
                g_terms["r1"] = r1
            gan.update(g_loss, d_loss)
        if not accelerator.sync_gradients:
            continue
        share = {f"share_{k}": v for k, v in shares.update(weighted).items()}
        step = progress.step({**g_terms, **share, "d_loss": d_loss, "lr": gan.g_sched.get_last_lr()[0]})
        if validator is not None and (step % args.validation_steps == 0 or step == args.max_train_steps):
            unwrapped = accelerator.unwrap_model(model)
            with ema_weights(gan.ema, unwrapped):
                accelerator.log(validator(accelerator, unwrapped, args, step), step=step)
    return progress.finish(disc)
