"""The authors' checkpoint layout: read a release ``.pth``, infer the config from tensor shapes, check keys.

Release files are plain state_dicts whose key names are exactly our module names, so loading needs no renaming.
Two lossless conveniences: a training checkpoint (dict with ``g_ema``/``g``/``d``) gives its generator or
discriminator, and a ``module.`` prefix left by ``DataParallel`` is dropped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .stylegan2 import channel_table

__all__ = [
    "OriginalCheckpointError",
    "infer_discriminator_config",
    "infer_generator_config",
    "load_original_discriminator",
    "load_original_generator",
    "read_original_state_dict",
]


class OriginalCheckpointError(ValueError):
    """An official-format checkpoint that cannot be read or does not match the expected layout."""


def read_original_state_dict(path: str | Path, prefer: tuple[str, ...] = ("g_ema", "g")) -> dict[str, torch.Tensor]:
    """Load a state_dict safely (``weights_only=True``) from an official file, with errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, random pickle, arbitrary objects refused by weights_only
        raise OriginalCheckpointError(
            f"{path}: cannot be read as a PyTorch state_dict ({type(err).__name__}: {_first_line(err)}). "
            "Expected a file written by torch.save(model.state_dict()), such as GPEN-BFR-512.pth."
        ) from err
    if isinstance(obj, dict):
        for key in prefer:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise OriginalCheckpointError(
            f"{path}: expected a dict of tensor names to tensors (a state_dict), got {type(obj).__name__}"
            + (f" with keys {sorted(obj)[:8]}" if isinstance(obj, dict) else "")
        )
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else ""


def _require(state_dict: dict[str, torch.Tensor], keys: list[str], what: str, source: str) -> None:
    missing = [k for k in keys if k not in state_dict]
    if missing:
        sample = ", ".join(sorted(state_dict)[:5])
        raise OriginalCheckpointError(
            f"{source}: not an official {what} checkpoint: missing key(s) {missing} (it has {len(state_dict)} "
            f"tensors, e.g. {sample})"
        )


def _indices(state_dict: dict[str, torch.Tensor], pattern: str) -> list[int]:
    regex = re.compile(pattern)
    return sorted({int(m.group(1)) for k in state_dict if (m := regex.match(k))})


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
    _require(state_dict, ["final_linear.0.weight", "generator.input.input", "ecd0.0.0.weight",
                          "generator.conv1.activate.bias"], "GPEN generator", source)
    encoder = _indices(state_dict, r"^ecd(\d+)\.")
    log_size = len(encoder) + 1
    if encoder != list(range(log_size - 1)):
        raise OriginalCheckpointError(f"{source}: encoder blocks ecd{encoder} are not numbered 0..n")
    n_rgb = len(_indices(state_dict, r"^generator\.to_rgbs\.(\d+)\."))
    if n_rgb != log_size - 2:
        raise OriginalCheckpointError(
            f"{source}: {len(encoder)} encoder blocks imply resolution {2 ** log_size} with {log_size - 2} "
            f"generator.to_rgbs, but the file has {n_rgb}"
        )
    c4 = state_dict["generator.input.input"].shape[1]
    observed = {4: c4}
    for i in range(3, log_size + 1):
        key = f"generator.convs.{2 * (i - 3)}.conv.weight"
        _require(state_dict, [key], "GPEN generator", source)
        observed[2**i] = state_dict[key].shape[1]
    cm, narrow = _infer_widths(observed, source)
    if "generator.conv1.noise.weight" not in state_dict:
        noise_mode = "none"
    else:
        noise_mode = "concat" if state_dict["generator.conv1.activate.bias"].shape[0] == 2 * c4 else "add"
    config: dict[str, Any] = {
        "resolution": 2**log_size,
        "style_dim": state_dict["final_linear.0.weight"].shape[0],
        "n_mlp": len(_indices(state_dict, r"^generator\.style\.(\d+)\.weight$")),
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
    _require(state_dict, ["convs.0.0.weight", "final_conv.0.weight", "final_linear.1.weight"],
             "GPEN discriminator", source)
    blocks = _indices(state_dict, r"^convs\.(\d+)\.")
    log_size = len(blocks) + 1
    observed = {2**log_size: state_dict["convs.0.0.weight"].shape[0], 4: state_dict["final_linear.1.weight"].shape[1]}
    for j in range(1, log_size - 1):
        key = f"convs.{j}.conv2.1.weight"
        _require(state_dict, [key], "GPEN discriminator", source)
        observed[2 ** (log_size - j)] = state_dict[key].shape[0]
    cm, narrow = _infer_widths(observed, source)
    config: dict[str, Any] = {"resolution": 2**log_size, "channel_multiplier": cm, "narrow": narrow}
    if "convs.1.conv2.0.kernel" in state_dict:
        config["blur_kernel"] = _infer_blur_kernel(state_dict["convs.1.conv2.0.kernel"])
    return config


def check_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Raise one error listing every missing, unexpected and mismatched-shape key."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    if missing or unexpected or mismatched:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
            if items:
                shown = "; ".join(items[:10]) + (f"; ... ({len(items) - 10} more)" if len(items) > 10 else "")
                parts.append(f"{label} ({len(items)}): {shown}")
        raise OriginalCheckpointError(f"{source}: does not match {type(model).__name__}({_config_str(model)}): "
                                      + " | ".join(parts))


def _config_str(model: nn.Module) -> str:
    config = getattr(model, "config", {})
    return ", ".join(f"{k}={v}" for k, v in config.items() if not k.startswith("_"))


def _load(cls: type, path: str | Path, infer, prefer: tuple[str, ...], overrides: dict[str, Any]) -> nn.Module:
    state_dict = read_original_state_dict(path, prefer=prefer)
    config = infer(state_dict, source=str(path))
    config.update(overrides)
    model = cls(**config)
    check_state_dict(model, state_dict, str(path))
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


def load_original_generator(cls: type, path: str | Path, **overrides) -> nn.Module:
    return _load(cls, path, infer_generator_config, ("g_ema", "g"), overrides)


def load_original_discriminator(cls: type, path: str | Path, **overrides) -> nn.Module:
    return _load(cls, path, infer_discriminator_config, ("d",), overrides)
