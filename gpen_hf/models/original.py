"""The authors' GPEN checkpoint layout: infer the generator's or discriminator's config from tensor shapes.

Reading and key checks are shared with the other networks (``_checkpoint.py``). A training checkpoint (dict with
``g_ema``/``g``/``d``) gives its generator or discriminator.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ._checkpoint import OriginalCheckpointError, StateDictSource, key_indices, load_original, require_keys
from .stylegan2 import channel_table

__all__ = [
    "infer_discriminator_config",
    "infer_generator_config",
    "load_original_discriminator",
    "load_original_generator",
]


def _infer_widths(observed: dict[int, int], source: str) -> tuple[int, float]:
    """Find (channel_multiplier, narrow) whose channel table reproduces the observed widths."""
    c4 = observed[4]
    # Widths are int(base * narrow), so many narrows fit: prefer the shortest decimal (0.3 over 0.2988...).
    narrow_candidates = [round(c4 / 512, digits) for digits in (2, 3, 4, 6)] + [c4 / 512, (c4 + 0.5) / 512]
    for narrow in narrow_candidates:
        for cm in (1, 2, 3, 4, 8):
            table = channel_table(cm, narrow)
            if all(table[r] == c for r, c in observed.items()):
                return cm, narrow
    raise OriginalCheckpointError(
        f"{source}: channel widths {observed} do not fit the GPEN channel table for any channel_multiplier/narrow"
    )


def _infer_blur_kernel(kernel: torch.Tensor) -> list[float]:
    """Recover the 1-D FIR taps from a stored, normalised 2-D kernel (its row sums, scaled to min 1)."""
    taps = kernel.double().sum(1)
    taps = taps / taps[taps > 0].min()
    rounded = taps.round()
    taps = rounded if torch.allclose(taps, rounded, atol=1e-4) else taps
    return [float(t) for t in taps]


def infer_generator_config(state_dict: dict[str, torch.Tensor], source: str = "state_dict") -> dict[str, Any]:
    """GPENModel config from an official generator state_dict (sizes, widths, mapping depth, noise mode)."""
    if "convs.0.0.weight" in state_dict and "final_conv.0.weight" in state_dict:
        raise OriginalCheckpointError(
            f"{source}: this is a discriminator checkpoint; load it with GPENDiscriminator.from_original_checkpoint"
        )
    require_keys(state_dict, ["final_linear.0.weight", "generator.input.input", "ecd0.0.0.weight",
                          "generator.conv1.activate.bias"], "GPEN generator", source)
    encoder = key_indices(state_dict, r"^ecd(\d+)\.")
    log_size = len(encoder) + 1
    if encoder != list(range(log_size - 1)):
        raise OriginalCheckpointError(f"{source}: encoder blocks ecd{encoder} are not numbered 0..n")
    n_rgb = len(key_indices(state_dict, r"^generator\.to_rgbs\.(\d+)\."))
    if n_rgb != log_size - 2:
        raise OriginalCheckpointError(
            f"{source}: {len(encoder)} encoder blocks imply resolution {2 ** log_size} with {log_size - 2} "
            f"generator.to_rgbs, but the file has {n_rgb}"
        )
    c4 = state_dict["generator.input.input"].shape[1]
    observed = {4: c4}
    for i in range(3, log_size + 1):
        key = f"generator.convs.{2 * (i - 3)}.conv.weight"
        require_keys(state_dict, [key], "GPEN generator", source)
        observed[2**i] = state_dict[key].shape[1]
    cm, narrow = _infer_widths(observed, source)
    if "generator.conv1.noise.weight" not in state_dict:
        noise_mode = "none"
    else:
        noise_mode = "concat" if state_dict["generator.conv1.activate.bias"].shape[0] == 2 * c4 else "add"
    config: dict[str, Any] = {
        "resolution": 2**log_size,
        "style_dim": state_dict["final_linear.0.weight"].shape[0],
        "n_mlp": len(key_indices(state_dict, r"^generator\.style\.(\d+)\.weight$")),
        "channel_multiplier": cm,
        "narrow": narrow,
        "noise_mode": noise_mode,
    }
    if "ecd1.0.0.kernel" in state_dict:
        config["blur_kernel"] = _infer_blur_kernel(state_dict["ecd1.0.0.kernel"])
    return config


def infer_discriminator_config(state_dict: dict[str, torch.Tensor], source: str = "state_dict") -> dict[str, Any]:
    """GPENDiscriminator config from an official discriminator state_dict."""
    if "generator.input.input" in state_dict:
        raise OriginalCheckpointError(
            f"{source}: this is a generator checkpoint; load it with GPENModel.from_original_checkpoint"
        )
    require_keys(state_dict, ["convs.0.0.weight", "final_conv.0.weight", "final_linear.1.weight"],
             "GPEN discriminator", source)
    blocks = key_indices(state_dict, r"^convs\.(\d+)\.")
    log_size = len(blocks) + 1
    observed = {2**log_size: state_dict["convs.0.0.weight"].shape[0], 4: state_dict["final_linear.1.weight"].shape[1]}
    for j in range(1, log_size - 1):
        key = f"convs.{j}.conv2.1.weight"
        require_keys(state_dict, [key], "GPEN discriminator", source)
        observed[2 ** (log_size - j)] = state_dict[key].shape[0]
    cm, narrow = _infer_widths(observed, source)
    config: dict[str, Any] = {"resolution": 2**log_size, "channel_multiplier": cm, "narrow": narrow}
    if "convs.1.conv2.0.kernel" in state_dict:
        config["blur_kernel"] = _infer_blur_kernel(state_dict["convs.1.conv2.0.kernel"])
    return config


def load_original_generator(cls: type, source: StateDictSource, **overrides) -> nn.Module:
    return load_original(cls, source, infer_generator_config, ("g_ema", "g"), overrides, "GPEN-BFR-512.pth")


def load_original_discriminator(cls: type, source: StateDictSource, **overrides) -> nn.Module:
    return load_original(cls, source, infer_discriminator_config, ("d",), overrides, "GPEN-BFR-512-D.pth")
