"""Loading a stage-1 output (a :class:`~gpen_hf.models.StyleGAN2Prior`) into GPEN's decoder."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gpen_hf.models import GPENDiscriminator, GPENModel, StyleGAN2Prior

from .setup import architecture_defaults

#: where stage-1 folders keep the prior, in the order stage 2 prefers them: ``generator_ema/`` is the EMA of
#: folders written before both stages saved one layout (``generator/`` = the weights to use, EMA when EMA is on)
PRIOR_SUBFOLDERS = ("generator_ema", "generator")


def config_mismatches(loaded: Mapping[str, Any], requested: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{key: (loaded value, requested value)}`` for each requested key whose value the loaded config does not
    have (lists and tuples compare alike: config values read back from JSON are lists)."""

    def plain(value):
        return list(value) if isinstance(value, (list, tuple)) else value

    return {k: (loaded.get(k), v) for k, v in requested.items() if plain(loaded.get(k)) != plain(v)}


def load_prior(path: str | Path) -> StyleGAN2Prior:
    """Load a stage-1 output folder or checkpoint (its ``generator/``; ``generator_ema/`` in older folders) or a
    folder holding one prior directly."""
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
    config = {k: prior.config[k] for k in architecture_defaults()}
    clashes = config_mismatches(config, {k: v for k, v in gpen_kwargs.items() if k in config and v is not None})
    if clashes:
        raise ValueError(f"options contradict the prior in {path}: " + ", ".join(
            f"{k}={mine!r} but the prior has {theirs!r}" for k, (theirs, mine) in clashes.items()))
    model = GPENModel(**config)
    model.generator.load_state_dict(prior.generator.state_dict())
    disc = None
    if (Path(path) / "discriminator" / "config.json").is_file():
        disc = GPENDiscriminator.from_pretrained(path, subfolder="discriminator")
        if disc.config.resolution != config["resolution"]:
            disc = None
    return model, disc
