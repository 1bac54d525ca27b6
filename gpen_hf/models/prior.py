"""StyleGAN2Prior: the stage-1 GAN prior (mapping + synthesis network) as a diffusers model.

It holds a :class:`~gpen_hf.models.stylegan2.StyleGAN2Generator` under the attribute ``generator``, the very
class and attribute name :class:`~gpen_hf.models.gpen.GPENModel` uses, so ``prior.generator.state_dict()``
loads into ``GPENModel.generator`` key for key.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from .stylegan2 import StyleGAN2Generator


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
        """See :meth:`StyleGAN2Generator.forward` (random noise maps: the prior is trained without encoder)."""
        return self.generator(z, mixing_index=mixing_index, return_latents=return_latents)
