"""RRDBNet (ESRGAN, Wang et al. 2018; Real-ESRGAN 2021): the authors' background upsampler, as a diffusers model.

Module names follow the release layout (``conv_first``, ``body.{i}.rdb{1,2,3}.conv{1..5}``, ``conv_body``,
``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last``), so ``realesrnet_x2.pth``'s ``params_ema`` loads with no
key edits. At scale 2 (1) the input is pixel-unshuffled by 2 (4) first, so the body always runs at a quarter of
the output size and the two nearest-neighbour ×2 upsamplings give the scale. Images are RGB in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from ._checkpoint import OriginalCheckpointError, StateDictSource, key_indices, load_original, require_keys
from ._sources import ResolvesSources

__all__ = ["RRDBNet", "infer_rrdbnet_config"]

#: pixel-unshuffle factor applied to the input, by output scale
_UNSHUFFLE = {1: 4, 2: 2, 4: 1}


class ResidualDenseBlock(nn.Module):
    """Five 3×3 convolutions, each seeing the block input and every earlier output; residual scaled by 0.2."""

    def __init__(self, num_feat: int, num_grow_ch: int):
        super().__init__()
        for i in range(4):
            setattr(self, f"conv{i + 1}", nn.Conv2d(num_feat + i * num_grow_ch, num_grow_ch, 3, 1, 1))
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for i in range(4):
            conv = getattr(self, f"conv{i + 1}")
            features.append(F.leaky_relu(conv(torch.cat(features, 1)), 0.2))
        return self.conv5(torch.cat(features, 1)) * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks, residual scaled by 0.2."""

    def __init__(self, num_feat: int, num_grow_ch: int):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(ResolvesSources, ModelMixin, ConfigMixin):
    """Super-resolution network: (N, C, H, W) in [0, 1] → (N, C, H·scale, W·scale), not clamped.

    Args:
        num_in_ch / num_out_ch: image channels (3).
        scale: 1, 2 or 4 (H and W must be multiples of 4 / 2 / 1).
        num_feat: width of the body (32 in realesrnet_x2, 64 in RealESRGAN_x4plus).
        num_block: RRDB blocks (23).
        num_grow_ch: growth channels of the dense blocks (32).
    """

    config_name = "config.json"

    @register_to_config
    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, scale: int = 2, num_feat: int = 32,
                 num_block: int = 23, num_grow_ch: int = 32):
        super().__init__()
        if scale not in _UNSHUFFLE:
            raise ValueError(f"RRDBNet scale must be one of {sorted(_UNSHUFFLE)}, got {scale}")
        self.unshuffle = _UNSHUFFLE[scale]
        self.conv_first = nn.Conv2d(num_in_ch * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.unshuffle or x.shape[-2] % self.unshuffle:
            raise ValueError(f"RRDBNet at scale {self.config.scale} needs H and W divisible by {self.unshuffle}, "
                             f"got {tuple(x.shape)}")
        feat = self.conv_first(F.pixel_unshuffle(x, self.unshuffle) if self.unshuffle > 1 else x)
        feat = feat + self.conv_body(self.body(feat))
        for conv in (self.conv_up1, self.conv_up2):
            feat = F.leaky_relu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))

    @classmethod
    def from_original_checkpoint(cls, source: StateDictSource, **overrides) -> RRDBNet:
        """Load a Real-ESRGAN/BasicSR release file or its dict (``params_ema`` preferred over ``params``), config
        from shapes."""
        return load_original(cls, source, infer_rrdbnet_config, ("params_ema", "params"), overrides,
                             "realesrnet_x2.pth")


def infer_rrdbnet_config(state_dict: dict[str, torch.Tensor], source: str = "state_dict") -> dict[str, int]:
    """RRDBNet config from a state_dict: widths from the first/last convolutions, depth from ``body.{i}``,
    scale from how many input channels ``conv_first`` sees per output channel (pixel-unshuffle ×4 = scale 2)."""
    require_keys(state_dict, ["conv_first.weight", "conv_last.weight", "body.0.rdb1.conv1.weight"], "RRDBNet",
                 source)
    num_feat, in_ch = state_dict["conv_first.weight"].shape[:2]
    out_ch = state_dict["conv_last.weight"].shape[0]
    ratio = in_ch // out_ch
    scale = {u * u: s for s, u in _UNSHUFFLE.items()}.get(ratio) if in_ch % out_ch == 0 else None
    if scale is None:
        raise OriginalCheckpointError(f"{source}: conv_first sees {in_ch} channels for {out_ch} output channels; "
                                      "expected 1, 4 or 16 times as many (scale 4, 2 or 1)")
    return {"num_in_ch": out_ch, "num_out_ch": out_ch, "scale": scale, "num_feat": num_feat,
            "num_block": len(key_indices(state_dict, r"^body\.(\d+)\.")), "num_grow_ch": state_dict["body.0.rdb1.conv1.weight"].shape[0]}
