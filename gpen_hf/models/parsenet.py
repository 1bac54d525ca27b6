"""ParseNet: the face-parsing network of the authors' inference (from PSFRGAN, Chen et al. 2021).

A residual encoder → body → decoder with two 3×3 heads: 19-class parsing logits (CelebAMask-HQ classes, see
``gpen_hf.faces.parsing``) and an RGB image. The authors build their paste-back mask from the parsing head.
The module names reproduce theirs, so the release file ``ParseNet-latest.pth`` (the same file as facexlib's
``parsing_parsenet.pth``) loads with zero key edits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

from ._checkpoint import OriginalCheckpointError, StateDictSource, key_indices, load_original, require_keys
from ._sources import ResolvesSources

NORM_TYPES = ("bn", "in", "gn", "pixel", "none")
RELU_TYPES = ("relu", "leakyrelu", "prelu", "selu", "none")


class PixelNorm(nn.Module):
    """Unit L2 norm over channels at every pixel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, p=2, dim=1)


class Norm(nn.Module):
    """Normalization by name; the layer sits at ``.norm``, as in the authors' keys (``*.norm.norm.*``)."""

    def __init__(self, channels: int, norm_type: str = "bn"):
        super().__init__()
        norm_type = norm_type.lower()
        if norm_type == "bn":
            self.norm = nn.BatchNorm2d(channels, affine=True)
        elif norm_type == "in":
            self.norm = nn.InstanceNorm2d(channels, affine=False)
        elif norm_type == "gn":
            self.norm = nn.GroupNorm(32, channels, affine=True)
        elif norm_type == "pixel":
            self.norm = PixelNorm()
        elif norm_type == "none":
            self.norm = nn.Identity()
        else:
            raise ValueError(f"norm_type must be one of {NORM_TYPES}, got {norm_type!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


class Activation(nn.Module):
    """Activation by name (LeakyReLU slope 0.2; PReLU per channel); the layer sits at ``.func``."""

    def __init__(self, channels: int, relu_type: str = "relu"):
        super().__init__()
        relu_type = relu_type.lower()
        if relu_type == "relu":
            self.func = nn.ReLU()
        elif relu_type == "leakyrelu":
            self.func = nn.LeakyReLU(0.2)
        elif relu_type == "prelu":
            self.func = nn.PReLU(channels)
        elif relu_type == "selu":
            self.func = nn.SELU()
        elif relu_type == "none":
            self.func = nn.Identity()
        else:
            raise ValueError(f"relu_type must be one of {RELU_TYPES} (any case), got {relu_type!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.func(x)


class ParseConv(nn.Module):
    """[nearest 2× up] → reflection pad → conv (stride 2 for ``"down"``) → norm → activation.

    The conv has no bias under batch norm (the norm's shift replaces it).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, scale: str = "none",
                 norm_type: str = "none", relu_type: str = "none"):
        super().__init__()
        if scale not in ("none", "up", "down"):
            raise ValueError(f"scale must be 'none', 'up' or 'down', got {scale!r}")
        self.upsample = scale == "up"
        self.padding = kernel_size // 2
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, 2 if scale == "down" else 1,
                                bias=norm_type.lower() != "bn")
        self.norm = Norm(out_channels, norm_type)
        self.relu = Activation(out_channels, relu_type)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.pad(x, [self.padding] * 4, mode="reflect")
        return self.relu(self.norm(self.conv2d(x)))


class ParseResBlock(nn.Module):
    """Residual block: conv–norm–act → conv–norm, plus a 3×3 conv shortcut when the shape changes.

    Downsampling happens in the second conv, upsampling before the first (as in the authors' block).
    """

    def __init__(self, in_channels: int, out_channels: int, scale: str = "none", norm_type: str = "bn",
                 relu_type: str = "leakyrelu"):
        super().__init__()
        self.shortcut_func = (nn.Identity() if scale == "none" and in_channels == out_channels
                              else ParseConv(in_channels, out_channels, 3, scale))
        first, second = {"none": ("none", "none"), "down": ("none", "down"), "up": ("up", "none")}[scale]
        self.conv1 = ParseConv(in_channels, out_channels, 3, first, norm_type, relu_type)
        self.conv2 = ParseConv(out_channels, out_channels, 3, second, norm_type, "none")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut_func(x) + self.conv2(self.conv1(x))


@dataclass
class ParseNetOutput(BaseOutput):
    """Output of :class:`ParseNet`.

    Args:
        parsing_logits: (N, parsing_ch, S', S') class scores per pixel (argmax over dim 1 gives the classes).
        image: (N, 3, S', S') the image head (a face in about [-1, 1]; the authors' inference ignores it).
    """

    parsing_logits: torch.Tensor
    image: torch.Tensor


class ParseNet(ResolvesSources, ModelMixin, ConfigMixin):
    """Face parsing network with the authors' constructor arguments.

    The release is ``ParseNet(512, 512, 32, 64, 19, relu_type="LeakyReLU", norm_type="bn",
    ch_range=(32, 256))``: four downsampling blocks (512 → 32), ten body blocks, four upsampling blocks.

    Args:
        in_size, out_size: input and output sizes the network was built for; with ``min_feat_size`` they set
            the number of down (log2(in_size / min_feat_size)) and up blocks. It is fully convolutional: any
            input whose side is a multiple of ``2**down_steps`` works, scaled by ``out_size / in_size``.
        min_feat_size: size of the body's feature maps at ``in_size``.
        base_ch: width of the first conv; it doubles with every downsampling block and halves with every
            upsampling one, clipped to ``ch_range``.
        parsing_ch: classes of the parsing head (19: CelebAMask-HQ).
        res_depth: residual blocks in the body.
        relu_type: ``"ReLU"``, ``"LeakyReLU"`` (slope 0.2), ``"PReLU"``, ``"SELU"`` or ``"none"`` (any case).
        norm_type: ``"bn"``, ``"in"``, ``"gn"`` (32 groups), ``"pixel"`` or ``"none"``.
        ch_range: (min, max) channel widths.
    """

    config_name = "config.json"
    _supports_gradient_checkpointing = False

    @register_to_config
    def __init__(
        self,
        in_size: int = 512,
        out_size: int = 512,
        min_feat_size: int = 32,
        base_ch: int = 64,
        parsing_ch: int = 19,
        res_depth: int = 10,
        relu_type: str = "LeakyReLU",
        norm_type: str = "bn",
        ch_range: Sequence[int] = (32, 256),
    ):
        super().__init__()
        min_feat_size = min(in_size, min_feat_size)
        if min_feat_size < 1 or out_size < min_feat_size:
            raise ValueError(f"need 1 <= min_feat_size <= in_size, out_size; got in_size={in_size}, "
                             f"out_size={out_size}, min_feat_size={min_feat_size}")
        self.down_steps = (in_size // min_feat_size).bit_length() - 1  # floor(log2), as their int(log2)
        up_steps = (out_size // min_feat_size).bit_length() - 1
        widths = parsenet_widths(base_ch, self.down_steps, up_steps, ch_range)
        if widths[0] != base_ch:
            raise ValueError(f"base_ch {base_ch} lies outside ch_range {tuple(ch_range)}: the first conv's "
                             "output would not match the next block's input")
        act = {"norm_type": norm_type, "relu_type": relu_type}

        encoder: list[nn.Module] = [ParseConv(3, base_ch, 3)]
        encoder += [ParseResBlock(widths[i], widths[i + 1], "down", **act) for i in range(self.down_steps)]
        body_ch = widths[self.down_steps]
        decoder = [ParseResBlock(widths[self.down_steps + i], widths[self.down_steps + i + 1], "up", **act)
                   for i in range(up_steps)]
        self.encoder = nn.Sequential(*encoder)
        self.body = nn.Sequential(*[ParseResBlock(body_ch, body_ch, **act) for _ in range(res_depth)])
        self.decoder = nn.Sequential(*decoder)
        self.out_img_conv = ParseConv(widths[-1], 3)
        self.out_mask_conv = ParseConv(widths[-1], parsing_ch)

    def forward(self, sample: torch.Tensor,
                return_dict: bool = True) -> ParseNetOutput | tuple[torch.Tensor, torch.Tensor]:
        """Parse faces.

        Args:
            sample: (N, 3, S, S) RGB in [-1, 1] (the authors resize aligned faces to ``in_size`` first).
            return_dict: return a :class:`ParseNetOutput` (default) or the tuple ``(parsing_logits, image)``,
                the authors' order.
        """
        step = 2**self.down_steps
        if sample.ndim != 4 or sample.shape[1] != 3 or sample.shape[2] % step or sample.shape[3] % step:
            raise ValueError(f"ParseNet expects a (N, 3, H, W) tensor with H and W multiples of {step} "
                             f"(config.in_size is {self.config.in_size}), got {tuple(sample.shape)}")
        feat = self.encoder(sample)
        x = self.decoder(feat + self.body(feat))
        logits, image = self.out_mask_conv(x), self.out_img_conv(x)
        if not return_dict:
            return logits, image
        return ParseNetOutput(parsing_logits=logits, image=image)

    @classmethod
    def from_original_checkpoint(cls, path_or_state_dict: StateDictSource, **overrides) -> ParseNet:
        """Load the authors' ``ParseNet-latest.pth`` (or any ParseNet state_dict), config from the shapes.

        Shapes fix the widths, depths, classes and the layers that hold tensors (batch or group norm, PReLU).
        They cannot tell sizes from their ratios, ReLU/SELU from LeakyReLU, nor instance/pixel norm from none:
        those become min_feat_size 32, LeakyReLU and ``"none"``; ``overrides`` (e.g. ``in_size=256``,
        ``norm_type="in"``) replace any inferred value. Returns the model in eval mode.
        """
        return load_original(cls, path_or_state_dict, infer_parsenet_config, (), overrides,
                             "ParseNet-latest.pth")


def parsenet_widths(base_ch: int, down_steps: int, up_steps: int, ch_range: Sequence[int]) -> list[int]:
    """Channel widths between the blocks: encoder input, after each down block, after each up block."""
    lo, hi = ch_range
    head = [base_ch * 2**i for i in range(down_steps + 1)]
    head += [head[-1] // 2**j for j in range(1, up_steps + 1)]
    return [max(lo, min(c, hi)) for c in head]


def infer_parsenet_config(state_dict: dict[str, torch.Tensor], source: str = "state_dict") -> dict[str, Any]:
    """ParseNet config from a state_dict: depths, widths, classes, bn/gn norm and PReLU from keys."""
    require_keys(state_dict, ["encoder.0.conv2d.weight", "out_mask_conv.conv2d.weight",
                              "out_img_conv.conv2d.weight"], "ParseNet", source)
    down = len(key_indices(state_dict, r"^encoder\.(\d+)\.")) - 1
    up = len(key_indices(state_dict, r"^decoder\.(\d+)\."))
    base_ch = state_dict["encoder.0.conv2d.weight"].shape[0]
    observed = [base_ch]
    for name, count in (("encoder", down), ("decoder", up)):
        for i in range(count):
            key = f"{name}.{i + (name == 'encoder')}.conv1.conv2d.weight"
            require_keys(state_dict, [key], "ParseNet", source)
            observed.append(state_dict[key].shape[0])
    ch_range = _infer_ch_range(base_ch, down, up, observed, source)
    if any(k.endswith(".norm.norm.running_mean") for k in state_dict):
        norm_type = "bn"
    elif any(k.endswith(".norm.norm.weight") for k in state_dict):
        norm_type = "gn"
    else:  # instance, pixel and no norm have no tensors: the file cannot say which
        norm_type = "none"
    prelu = any(k.endswith(".relu.func.weight") for k in state_dict)
    min_feat = 32
    return {
        "in_size": min_feat * 2**down,
        "out_size": min_feat * 2**up,
        "min_feat_size": min_feat,
        "base_ch": base_ch,
        "parsing_ch": state_dict["out_mask_conv.conv2d.weight"].shape[0],
        "res_depth": len(key_indices(state_dict, r"^body\.(\d+)\.")),
        "relu_type": "PReLU" if prelu else "LeakyReLU",
        "norm_type": norm_type,
        "ch_range": ch_range,
    }


def _infer_ch_range(base_ch: int, down: int, up: int, observed: list[int], source: str) -> list[int]:
    """A (min, max) clip that reproduces the observed widths, the release's (32, 256) when it fits.

    The observed extremes always fit when any range does; wider bounds that clip nothing are equivalent.
    """
    lo_seen, hi_seen = min(observed), max(observed)
    for lo in (min(32, lo_seen), lo_seen):
        for hi in (max(256, hi_seen), hi_seen):
            if parsenet_widths(base_ch, down, up, (lo, hi)) == observed:
                return [lo, hi]
    raise OriginalCheckpointError(
        f"{source}: ParseNet widths {observed} (first conv, then each down and up block) are not base_ch "
        f"{base_ch} doubling down and halving up within any channel range"
    )
