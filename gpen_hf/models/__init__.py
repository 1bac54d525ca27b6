"""GPEN networks: layers, the StyleGAN2 prior, the GPEN generator, the discriminator and ParseNet."""

from ._checkpoint import OriginalCheckpointError
from .discriminator import GPENDiscriminator, GPENDiscriminatorOutput
from .gpen import GPENModel, GPENModelOutput
from .layers import set_reference_mode
from .parsenet import ParseNet, ParseNetOutput
from .stylegan2 import StyleGAN2Generator

__all__ = [
    "GPENDiscriminator",
    "GPENDiscriminatorOutput",
    "GPENModel",
    "GPENModelOutput",
    "OriginalCheckpointError",
    "ParseNet",
    "ParseNetOutput",
    "StyleGAN2Generator",
    "set_reference_mode",
]
