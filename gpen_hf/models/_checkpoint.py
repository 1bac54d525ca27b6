"""Reading the authors' ``.pth`` files and checking them against a model, for every network we load unchanged.

Release files are plain state_dicts whose key names are exactly our module names, so loading renames nothing.
Two lossless conveniences: a training checkpoint (a dict holding the state_dict under a known key such as
``g_ema``) gives that state_dict, and a ``module.`` prefix left by ``DataParallel`` is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

StateDictSource = str | Path | Mapping[str, torch.Tensor]


class OriginalCheckpointError(ValueError):
    """An official-format checkpoint that cannot be read or does not match the expected layout."""


def read_original_state_dict(path: str | Path, prefer: tuple[str, ...] = ("g_ema", "g"),
                             example: str = "GPEN-BFR-512.pth") -> dict[str, torch.Tensor]:
    """Load a state_dict safely (``weights_only=True``) from an official file, with errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, random pickle, arbitrary objects refused by weights_only
        raise OriginalCheckpointError(
            f"{path}: cannot be read as a PyTorch state_dict ({type(err).__name__}: {_first_line(err)}). "
            f"Expected a file written by torch.save(model.state_dict()), such as {example}."
        ) from err
    return unwrap_state_dict(obj, prefer, str(path))


def unwrap_state_dict(obj: Any, prefer: tuple[str, ...], source: str) -> dict[str, torch.Tensor]:
    """The tensor dict in ``obj`` (itself or under the first ``prefer`` key), minus a ``module.`` prefix."""
    if isinstance(obj, Mapping):
        for key in prefer:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise OriginalCheckpointError(
            f"{source}: expected a dict of tensor names to tensors (a state_dict), got {type(obj).__name__}"
            + (f" with keys {sorted(obj)[:8]}" if isinstance(obj, Mapping) else "")
        )
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else ""


def require_keys(state_dict: Mapping[str, torch.Tensor], keys: list[str], what: str, source: str) -> None:
    """Fail naming the missing keys (and a sample of the file's) when ``state_dict`` is not a ``what``."""
    missing = [k for k in keys if k not in state_dict]
    if missing:
        sample = ", ".join(sorted(state_dict)[:5])
        raise OriginalCheckpointError(
            f"{source}: not an official {what} checkpoint: missing key(s) {missing} "
            f"(it has {len(state_dict)} tensors, e.g. {sample})"
        )


def key_indices(state_dict: Mapping[str, torch.Tensor], pattern: str) -> list[int]:
    """Sorted distinct integers captured by ``pattern``'s first group over the keys (block numbers)."""
    regex = re.compile(pattern)
    return sorted({int(m.group(1)) for k in state_dict if (m := regex.match(k))})


def check_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
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
        groups = (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched))
        for label, items in groups:
            if items:
                shown = "; ".join(items[:10]) + (f"; ... ({len(items) - 10} more)" if len(items) > 10 else "")
                parts.append(f"{label} ({len(items)}): {shown}")
        raise OriginalCheckpointError(
            f"{source}: does not match {type(model).__name__}({_config_str(model)}): " + " | ".join(parts))


def _config_str(model: nn.Module) -> str:
    config = getattr(model, "config", {})
    return ", ".join(f"{k}={v}" for k, v in config.items() if not k.startswith("_"))


def load_original(cls: type, source: StateDictSource, infer: Callable[..., dict[str, Any]],
                  prefer: tuple[str, ...], overrides: dict[str, Any], example: str) -> nn.Module:
    """Build ``cls`` from the config ``infer`` reads off the shapes (+ ``overrides``), load strictly, eval."""
    if isinstance(source, Mapping):
        name = "state_dict"
        state_dict = unwrap_state_dict(source, prefer, name)
    else:
        name = str(source)
        state_dict = read_original_state_dict(source, prefer=prefer, example=example)
    config = infer(state_dict, source=name)
    config.update(overrides)
    model = cls(**config)
    check_state_dict(model, state_dict, name)
    model.load_state_dict(state_dict, strict=True)
    return model.eval()
