"""Private helpers of the layer modules (:mod:`.layers`, :mod:`.modulated`): constants, the fast path's small
ops and the one inference-cache helper every layer uses."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)
CHANNELS_LAST = torch.channels_last


def inplace_ok() -> bool:
    """In-place activations only when no autograd graph is recorded (inference): zero risk for training."""
    return not torch.is_grad_enabled()


def graph_mode() -> bool:
    """Recording a graph (ONNX tracing, torch.compile): no Python-side caches, no ``out=`` arguments."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


def tensor_key(t: torch.Tensor) -> tuple:
    """What identifies a tensor's current contents: storage, in-place version, dtype, device."""
    return (t.data_ptr(), t._version, t.dtype, t.device)


def cached(owner: nn.Module, slot: str, source: torch.Tensor, compute: Callable[[], torch.Tensor],
           *extra_key) -> torch.Tensor:
    """``compute()`` (derived from the tensor ``source``), kept on ``owner`` as ``_cached_{slot}`` (outside the state_dict) and reused
    at inference while ``source`` and ``extra_key`` are unchanged: rebuilt when ``source`` is changed in place
    (``load_state_dict``), replaced, moved or cast. Computed afresh, and not kept, whenever autograd records
    (training gradients flow as usual) or a graph is traced or compiled."""
    if torch.is_grad_enabled() or graph_mode():
        return compute()
    key = (*tensor_key(source), *extra_key)
    slot = f"_cached_{slot}"
    entry = owner.__dict__.get(slot)
    if entry is None or entry[0] != key:
        entry = owner.__dict__[slot] = (key, compute())
    return entry[1]


def scaled_weight(weight: torch.Tensor, factor: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """``weight * factor`` in ``x``'s dtype, written straight in ``x``'s memory format at inference (oneDNN
    would otherwise copy an NCHW weight to channels_last on every call)."""
    if torch.is_grad_enabled() or graph_mode() or weight.dtype != x.dtype:
        return (weight * factor).to(x.dtype)
    fmt = CHANNELS_LAST if x.is_contiguous(memory_format=CHANNELS_LAST) else torch.contiguous_format
    out = torch.empty(weight.shape, dtype=x.dtype, device=x.device, memory_format=fmt)
    return torch.mul(weight, factor, out=out)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (slope 0.2) of an already gain-scaled tensor: ``sqrt2*lrelu(v) == lrelu(sqrt2*v)``."""
    return F.leaky_relu(x, 0.2, inplace=inplace_ok())
