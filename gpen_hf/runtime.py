"""CPU/GPU inference settings shared by the pipeline, the benchmarks and the exporters.

* :func:`tune_cpu_allocator` keeps freed memory in glibc's heap instead of returning every large block to the
  kernel. Without it each forward pass page-faults in (and zero-fills) every feature map afresh: at 512 px
  that is gigabytes of first-touch traffic per face, a large share of the CPU time.
* :func:`inference_context` is ``torch.inference_mode()`` plus optional autocast (``torch.bfloat16`` or
  ``torch.float16``) on the tensor's device type.
* :func:`face_memory_bytes` / :func:`batch_size_for_budget` size face batches to a memory budget.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys
import warnings
from collections.abc import Iterator

import torch

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_DEFAULT_MMAP_MAX = 65536
_DEFAULT_TRIM_THRESHOLD = 128 * 1024
_allocator_tuned = False


def tune_cpu_allocator(enabled: bool = True) -> bool:
    """Make glibc malloc reuse large blocks (no ``mmap``/``munmap`` per tensor). Process-wide, idempotent.

    ``enabled=False`` restores glibc's documented defaults (used by the benchmarks to time the authors'
    setting in the same process). Returns ``True`` when applied (Linux with glibc), ``False`` where it does not
    apply. The cost: memory freed by PyTorch stays reserved by the process (peak RSS is unchanged, it just is
    not given back to the system).
    """
    global _allocator_tuned
    if _allocator_tuned == enabled:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mmap_max, trim = (0, 2**31 - 1) if enabled else (_DEFAULT_MMAP_MAX, _DEFAULT_TRIM_THRESHOLD)
    ok = bool(mallopt(_M_MMAP_MAX, mmap_max)) and bool(mallopt(_M_TRIM_THRESHOLD, trim))
    if ok:
        _allocator_tuned = enabled
    return ok


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    """``"bf16"``/``"bfloat16"``/``"fp16"``/``"float16"``/``"fp32"``/None → torch dtype (None = float32)."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return None if dtype in (None, torch.float32) else dtype
    names = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
             "fp32": None, "float32": None}
    if dtype not in names:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(names)}")
    return names[dtype]


def cpu_supports(dtype: torch.dtype) -> bool:
    """Whether this CPU has native oneDNN kernels for ``dtype`` (AVX-512-BF16/AMX/AVX-VNNI class hardware).

    Without them bf16/fp16 convolutions run on slow reference kernels: several times *slower* than fp32.
    """
    try:
        if dtype == torch.bfloat16:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        if dtype == torch.float16:
            return bool(torch.ops.mkldnn._is_mkldnn_fp16_supported())
    except (AttributeError, RuntimeError):
        return False
    return dtype == torch.float32


@contextlib.contextmanager
def inference_context(device: torch.device | str = "cpu",
                      autocast_dtype: str | torch.dtype | None = None) -> Iterator[None]:
    """``torch.inference_mode()`` and, for a reduced ``autocast_dtype``, autocast on ``device``'s type."""
    autocast_dtype = resolve_dtype(autocast_dtype)
    device_type = torch.device(device).type
    if autocast_dtype is not None and device_type == "cpu" and not cpu_supports(autocast_dtype):
        warnings.warn(f"this CPU has no native {autocast_dtype} kernels: autocast will be much slower than "
                      "float32 here", RuntimeWarning, stacklevel=3)
    with torch.inference_mode():
        if autocast_dtype is None:
            yield
        else:
            with torch.autocast(device_type, dtype=autocast_dtype):
                yield


#: Peak working memory of one face through the fast path, in units of the sum of all feature maps
#: (sum over resolutions r of C_r * r^2 float32 values). Measured with GPEN-512 in float32
#: (encoder features kept for the decoder, concatenated maps, transposed-conv and blur outputs): the 4000x3000
#: ten-face benchmark grows by ~0.69 GiB of peak RSS per extra face in a batch; 6.0 gives ~0.72 GiB.
ACTIVATION_FACTOR = 6.0


def face_memory_bytes(model: torch.nn.Module) -> int:
    """Estimated peak activation memory (bytes) of one face through a ``GPENModel`` forward pass."""
    from .models.stylegan2 import channel_table

    cfg = model.config
    channels = channel_table(cfg.channel_multiplier, cfg.narrow)
    values = sum(c * r * r for r, c in channels.items() if r <= cfg.resolution)
    return int(ACTIVATION_FACTOR * values * 4)


def batch_size_for_budget(model: torch.nn.Module, budget_mb: float | None, max_batch: int) -> int:
    """Largest batch (<= ``max_batch``, >= 1) whose estimated activations fit ``budget_mb`` MiB (None: no cap)."""
    if budget_mb is None or not hasattr(model, "config"):
        return max(1, max_batch)
    return max(1, min(max_batch, int(budget_mb * 2**20 // face_memory_bytes(model))))
