"""GPEN networks: layers, the StyleGAN2 prior (alone: stage 1), the GPEN generator, the discriminator and
ParseNet."""

from ._checkpoint import OriginalCheckpointError
from .discriminator import GPENDiscriminator, GPENDiscriminatorOutput
from .gpen import GPENModel, GPENModelOutput
from .implementation import IMPLEMENTATIONS, set_implementation
from .parsenet import ParseNet, ParseNetOutput
from .prior import StyleGAN2Prior
from .stylegan2 import StyleGAN2Generator

__all__ = [
    "IMPLEMENTATIONS",
    "GPENDiscriminator",
    "GPENDiscriminatorOutput",
    "GPENModel",
    "GPENModelOutput",
    "OriginalCheckpointError",
    "ParseNet",
    "ParseNetOutput",
    "StyleGAN2Generator",
    "StyleGAN2Prior",
    "set_implementation",
]
