"""Growing a stage-1 prior to twice its resolution: train the prior small (cheap) first, then at full size.

A StyleGAN2 generator of resolution R is a prefix of the one of resolution 2R with the same widths: every
layer up to R keeps its name and shape, and 2R only adds two styled convs and a ToRGB. The new ToRGB starts with
zero weights, so the grown generator first draws exactly the small one's images, FIR-upsampled (its skip
connection), and the new layers learn the detail on top. The discriminator's residual blocks below R are
copied too (they see the same feature sizes); its new input layers start fresh.
"""

from __future__ import annotations

from pathlib import Path

import torch

from gpen_hf.models import GPENDiscriminator, StyleGAN2Prior


def grow_prior(small: StyleGAN2Prior, resolution: int) -> StyleGAN2Prior:
    """A prior at ``resolution`` (a multiple of the small one's) holding ``small``'s layers; new ToRGBs zeroed.
    At the same resolution it is a copy (a run that starts from another run's weights)."""
    config = {k: v for k, v in small.config.items() if not k.startswith("_")}
    if resolution < config["resolution"] or resolution % config["resolution"]:
        raise ValueError(f"can only grow a {config['resolution']}-px prior to a multiple of it, got {resolution}")
    big = StyleGAN2Prior(**{**config, "resolution": resolution})
    _, unexpected = big.load_state_dict(small.state_dict(), strict=False)
    if unexpected:
        raise ValueError(f"the small prior has layers the grown one lacks: {unexpected[:5]}")
    with torch.no_grad():
        for to_rgb in big.generator.to_rgbs[len(small.generator.to_rgbs):]:
            to_rgb.conv.weight.zero_()
    return big


def grow_discriminator(small: GPENDiscriminator, resolution: int) -> GPENDiscriminator:
    """A discriminator at ``resolution`` whose lower residual blocks and head are ``small``'s (input layer and
    the new top blocks fresh); a copy at the same resolution."""
    config = {k: v for k, v in small.config.items() if not k.startswith("_")}
    big = GPENDiscriminator(**{**config, "resolution": resolution})
    extra = len(big.convs) - len(small.convs)  # new top residual blocks
    if extra == 0:
        big.load_state_dict(small.state_dict())
        return big
    state = {}
    for key, value in small.state_dict().items():
        if key.startswith("convs."):
            index, rest = key[len("convs."):].split(".", 1)
            if index == "0":
                continue  # the small input layer reads RGB at the small size: no counterpart
            key = f"convs.{int(index) + extra}.{rest}"
        state[key] = value
    big.load_state_dict(state, strict=False)
    return big


def load_grown(folder: str | Path, resolution: int | None = None) -> tuple[StyleGAN2Prior, GPENDiscriminator]:
    """A stage-1 folder's ``generator/`` and ``discriminator/`` (a run's output or one of its checkpoints), grown
    to ``resolution`` (default: theirs, a copy)."""
    small = StyleGAN2Prior.from_pretrained(folder, subfolder="generator")
    size = resolution or small.config.resolution
    prior = grow_prior(small, size)  # before loading D: from_pretrained draws random numbers too
    return prior, grow_discriminator(GPENDiscriminator.from_pretrained(folder, subfolder="discriminator"), size)
