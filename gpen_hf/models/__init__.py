"""GPEN networks: layers, the StyleGAN2 prior (alone: stage 1), the GPEN generator and the discriminator."""

from .discriminator import GPENDiscriminator, GPENDiscriminatorOutput
from .gpen import GPENModel, GPENModelOutput
from .implementation import IMPLEMENTATIONS, set_implementation
from .original import OriginalCheckpointError
from .prior import StyleGAN2Prior
from .stylegan2 import StyleGAN2Generator

__all__ = [
    "IMPLEMENTATIONS",
    "GPENDiscriminator",
    "GPENDiscriminatorOutput",
    "GPENModel",
    "GPENModelOutput",
    "OriginalCheckpointError",
    "StyleGAN2Generator",
    "StyleGAN2Prior",
    "set_implementation",
]
