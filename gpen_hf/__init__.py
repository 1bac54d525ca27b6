"""gpen-hf: GPEN blind face restoration (Yang et al., CVPR 2021) on the Hugging Face conventions."""

__version__ = "0.1.0"

from .degradation import DegradationParams, degrade, sample
from .models import (
    GPENDiscriminator,
    GPENDiscriminatorOutput,
    GPENModel,
    GPENModelOutput,
    OriginalCheckpointError,
    ParseNet,
    ParseNetOutput,
    StyleGAN2Generator,
    set_implementation,
)
from .pipeline import GPENPipeline, GPENPipelineOutput

__all__ = [
    "DegradationParams",
    "GPENDiscriminator",
    "GPENDiscriminatorOutput",
    "GPENModel",
    "GPENModelOutput",
    "GPENPipeline",
    "GPENPipelineOutput",
    "OriginalCheckpointError",
    "ParseNet",
    "ParseNetOutput",
    "StyleGAN2Generator",
    "degrade",
    "sample",
    "set_implementation",
]
