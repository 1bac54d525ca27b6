"""GPEN networks: layers, the StyleGAN2 prior, the GPEN generator and the discriminator."""

from .discriminator import GPENDiscriminator, GPENDiscriminatorOutput
from .gpen import GPENModel, GPENModelOutput
from .layers import set_reference_mode
from .original import OriginalCheckpointError
from .stylegan2 import StyleGAN2Generator

__all__ = [
    "GPENDiscriminator",
    "GPENDiscriminatorOutput",
    "GPENModel",
    "GPENModelOutput",
    "OriginalCheckpointError",
    "StyleGAN2Generator",
    "set_reference_mode",
]
