"""gpen-hf: GPEN blind face restoration (Yang et al., CVPR 2021) on the Hugging Face conventions."""

__version__ = "0.1.0"

from .models import (  # noqa: E402
    GPENDiscriminator,
    GPENDiscriminatorOutput,
    GPENModel,
    GPENModelOutput,
    OriginalCheckpointError,
    StyleGAN2Generator,
    set_reference_mode,
)

__all__ = [
    "GPENDiscriminator",
    "GPENDiscriminatorOutput",
    "GPENModel",
    "GPENModelOutput",
    "OriginalCheckpointError",
    "StyleGAN2Generator",
    "set_reference_mode",
]
