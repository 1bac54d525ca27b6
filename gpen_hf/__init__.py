"""gpen-hf: GPEN blind face restoration (Yang et al., CVPR 2021) on the Hugging Face conventions."""

__version__ = "0.1.0"

from functools import partial

from .degradation import DegradationParams, degrade, sample
from .hub import pretrained_folder
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
from .models.rrdbnet import RRDBNet
from .pipeline import GPENPipeline, GPENPipelineOutput

# Wiring of the layers: each model's from_pretrained asks the one resolver (registry names, .pth files, Hub
# errors) first; models/ itself imports nothing of this (see models/_sources.py).
GPENModel.source_resolver = partial(pretrained_folder, kind="gpen")
ParseNet.source_resolver = partial(pretrained_folder, kind="parsenet")
RRDBNet.source_resolver = partial(pretrained_folder, kind="realesrnet")

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
    "RRDBNet",
    "StyleGAN2Generator",
    "degrade",
    "sample",
    "set_implementation",
]
