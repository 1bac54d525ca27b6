"""The stage-1 GAN prior as a diffusers model, and loading it into GPEN's decoder.

:class:`StyleGAN2Prior` holds a :class:`~gpen_hf.models.StyleGAN2Generator` under the attribute ``generator``
— the very class and attribute name ``GPENModel`` uses — so ``prior.generator.state_dict()`` loads into
``GPENModel.generator`` key for key.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from gpen_hf.models import GPENDiscriminator, GPENModel, StyleGAN2Generator

#: subfolders written by ``training/pretrain_prior.py``, in the order stage 2 prefers them
PRIOR_SUBFOLDERS = ("generator_ema", "generator")


class StyleGAN2Prior(ModelMixin, ConfigMixin):
    """StyleGAN2 generator (mapping + synthesis) with GPEN's noise modes; arguments as ``GPENModel``'s."""

    config_name = "config.json"

    @register_to_config
    def __init__(self, resolution: int = 512, style_dim: int = 512, n_mlp: int = 8, channel_multiplier: int = 2,
                 narrow: float = 1.0, noise_mode: str = "concat", blur_kernel: Sequence[float] = (1, 3, 3, 1),
                 lr_mlp: float = 0.01):
        super().__init__()
        self.generator = StyleGAN2Generator(resolution, style_dim, n_mlp, channel_multiplier, narrow, noise_mode,
                                            blur_kernel, lr_mlp)

    def forward(self, z: torch.Tensor | Sequence[torch.Tensor], mixing_index: int | None = None,
                return_latents: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """z (or two z for style mixing from layer ``mixing_index``) → images; optionally the per-layer w
        (N, n_latent, style_dim), part of the graph, for the path-length regulariser."""
        g = self.generator
        ws = [g.map(s) for s in ([z] if isinstance(z, torch.Tensor) else z)]
        latents = ws[0].unsqueeze(1).repeat(1, g.n_latent, 1)
        if len(ws) > 1:
            index = g.n_latent // 2 if mixing_index is None else mixing_index
            latents = torch.cat([latents[:, :index], ws[1].unsqueeze(1).repeat(1, g.n_latent - index, 1)], 1)
        images = g.synthesize(latents)
        return (images, latents) if return_latents else images


def load_prior(path: str | Path) -> StyleGAN2Prior:
    """Load a stage-1 output folder (EMA generator if present) or a folder holding one prior directly."""
    path = Path(path)
    for sub in PRIOR_SUBFOLDERS:
        if (path / sub / "config.json").is_file():
            return StyleGAN2Prior.from_pretrained(path, subfolder=sub)
    if (path / "config.json").is_file():
        return StyleGAN2Prior.from_pretrained(path)
    raise FileNotFoundError(f"{str(path)!r} holds no stage-1 prior (expected {'/ or '.join(PRIOR_SUBFOLDERS)}/"
                            "config.json, as written by training/pretrain_prior.py)")


def gpen_from_prior(path: str | Path, **gpen_kwargs) -> tuple[GPENModel, GPENDiscriminator | None]:
    """A new GPENModel whose decoder + mapping network are the stage-1 prior (encoder freshly initialised),
    and the prior's discriminator when the folder has one. ``gpen_kwargs`` may only repeat the prior's
    architecture (resolution, widths, noise mode), never contradict it."""
    prior = load_prior(path)
    config = {k: prior.config[k] for k in ("resolution", "style_dim", "n_mlp", "channel_multiplier", "narrow",
                                           "noise_mode", "blur_kernel", "lr_mlp")}
    clashes = {k: (v, config[k]) for k, v in gpen_kwargs.items() if k in config and v is not None and v != config[k]}
    if clashes:
        raise ValueError(f"options contradict the prior in {path}: " + ", ".join(
            f"{k}={mine!r} but the prior has {theirs!r}" for k, (mine, theirs) in clashes.items()))
    model = GPENModel(**config)
    model.generator.load_state_dict(prior.generator.state_dict())
    disc = None
    if (Path(path) / "discriminator" / "config.json").is_file():
        disc = GPENDiscriminator.from_pretrained(path, subfolder="discriminator")
        if disc.config.resolution != config["resolution"]:
            disc = None
    return model, disc
