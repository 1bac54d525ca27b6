"""Stage 1 (the GAN prior) training loop; ``training/pretrain_prior.py`` is its command line.

StyleGAN2 recipe: non-saturating logistic loss, lazy R1, style mixing, optional lazy path-length
regularisation, EMA generator, and optional DiffAugment for small data sets. The generator is
:class:`~gpen_hf.models.StyleGAN2Prior` (a :class:`~gpen_hf.models.StyleGAN2Generator` with GPEN's noise mode),
so stage 2 loads it unchanged.
"""

from __future__ import annotations

import argparse
import logging

import torch

from gpen_hf.models import GPENDiscriminator, StyleGAN2Prior

from .augment import diff_augment, parse_policy
from .checkpointing import TrainState
from .data import FaceStream
from .grow import load_grown
from .losses import d_logistic_loss, g_nonsaturating_loss, path_length_penalty, r1_penalty, update_path_mean
from .prior import config_mismatches
from .progress import TrainingProgress, ema_weights, log_grid, to_uint8_grid
from .setup import make_accelerator, prepare_gan

logger = logging.getLogger(__name__)


def sample_z(batch: int, style_dim: int, mixing_prob: float, n_latent: int, device: torch.device):
    """z for one batch: with probability ``mixing_prob`` two z and a random crossover layer (style mixing)."""
    if mixing_prob > 0 and torch.rand(()).item() < mixing_prob:
        z = torch.randn(2, batch, style_dim).to(device)
        return [z[0], z[1]], int(torch.randint(1, n_latent, ()).item())
    return torch.randn(batch, style_dim).to(device), None


def initial_models(folder: str, prior: StyleGAN2Prior) -> tuple[StyleGAN2Prior, GPENDiscriminator]:
    """``--init_from``: the generator and discriminator of another stage-1 folder (a run's output or one of its
    checkpoints), grown to this run's resolution if smaller; the architecture must otherwise match."""
    grown, disc = load_grown(folder, prior.config.resolution)
    mismatched = config_mismatches(grown.config, {k: v for k, v in prior.config.items()
                                                  if k != "resolution" and not k.startswith("_")})
    if mismatched:
        raise ValueError(f"--init_from {folder}: its prior differs in " + ", ".join(
            f"{k} ({theirs!r}, asked for {mine!r})" for k, (theirs, mine) in mismatched.items()))
    logger.info("starting from the prior of %s, grown to %d px", folder, prior.config.resolution)
    return grown, disc


def run(args: argparse.Namespace) -> dict:
    """Train the prior; returns the summary it writes to ``output_dir/summary.json``."""
    accelerator = make_accelerator(args)
    policy = parse_policy(args.diffaugment)
    prior = StyleGAN2Prior(resolution=args.resolution, style_dim=args.style_dim, n_mlp=args.n_mlp,
                           channel_multiplier=args.channel_multiplier, narrow=args.narrow, noise_mode=args.noise_mode)
    disc = GPENDiscriminator(resolution=args.resolution, channel_multiplier=args.channel_multiplier,
                             narrow=args.narrow, mbstd_group_size=args.mbstd_group_size)
    if args.init_from:
        prior, disc = initial_models(args.init_from, prior)
    pl_every = args.path_length_every if args.path_length_weight > 0 else 0
    gan = prepare_gan(accelerator, args, prior, disc, TrainState(path_mean=0.0), g_reg_every=pl_every,
                      project="gpen_prior")
    prior, disc, state = gan.generator, gan.discriminator, gan.state
    data = FaceStream(args.train_data_dir, args.resolution, seed=args.seed, flip_prob=0.5 if args.random_flip else 0,
                      source_weights=args.source_weights, manifest_filter=dict(args.manifest_filter or ()))
    batches = gan.batches(data)
    g = accelerator.unwrap_model(prior).generator
    val_z = torch.randn(args.num_validation_images, args.style_dim,
                        generator=torch.Generator().manual_seed(args.seed)).to(accelerator.device)
    progress = TrainingProgress(accelerator, args, prior, gan.ema, gan.global_step,
                                postfix={"g": "g_loss", "d": "d_loss"})
    while progress.running:
        real = next(batches)["target"].to(accelerator.device)
        n = real.shape[0]
        do_r1 = args.r1_gamma > 0 and progress.global_step % args.r1_every == 0
        do_pl = pl_every > 0 and progress.global_step % pl_every == 0
        with accelerator.accumulate(prior, disc):
            z, mixing_index = sample_z(n, args.style_dim, args.mixing_prob, g.n_latent, accelerator.device)
            fake = prior(z, mixing_index=mixing_index)
            real.requires_grad_(do_r1)
            real_logits = disc(diff_augment(real, policy)).logits
            fake_logits = disc(diff_augment(fake, policy)).logits
            g_loss = g_nonsaturating_loss(fake_logits)
            d_loss = d_logistic_loss(real_logits, fake_logits)
            terms = {"g_loss": g_loss, "d_loss": d_loss}
            # `+ 0 * output` below (StyleGAN2-ADA's DDP workaround): a penalty that reaches the weights only through
            # a double backward keeps the DDP forward's output in its graph, so DDP's reducer hooks still fire
            if do_r1:
                terms["r1"] = r1_penalty(real_logits, real)
                d_loss = d_loss + args.r1_gamma / 2 * terms["r1"] * args.r1_every + 0 * real_logits[0, 0]
            if do_pl:
                pl_batch = max(1, n // args.path_length_batch_shrink)
                pl_images, latents = prior(torch.randn(pl_batch, args.style_dim).to(accelerator.device),
                                           return_latents=True)
                penalty, lengths = path_length_penalty(pl_images, latents, state["path_mean"])
                g_loss = g_loss + args.path_length_weight * pl_every * penalty + 0 * pl_images[0, 0, 0, 0]
                batch_mean = accelerator.reduce(lengths.detach().mean(), reduction="mean")
                state["path_mean"] = update_path_mean(state["path_mean"], float(batch_mean))
                terms["path_length"] = penalty
            gan.update(g_loss, d_loss)
        if not accelerator.sync_gradients:
            continue
        step = progress.step({**terms, "path_mean": state["path_mean"]})
        if accelerator.is_main_process and args.validation_steps > 0 and (
            step % args.validation_steps == 0 or step == args.max_train_steps
        ):
            with torch.no_grad(), accelerator.autocast(), ema_weights(gan.ema, accelerator.unwrap_model(prior)):
                samples = accelerator.unwrap_model(prior)(val_z)
            log_grid(accelerator, args, to_uint8_grid([samples]), step, "samples")
    return progress.finish(disc)
