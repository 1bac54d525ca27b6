"""Inference settings: dtype names, the inference/autocast context, the allocator switch."""

from __future__ import annotations

import sys

import pytest
import torch

from gpen_hf.runtime import inference_context, resolve_dtype, tune_cpu_allocator


def test_resolve_dtype() -> None:
    assert resolve_dtype(None) is None and resolve_dtype("fp32") is None and resolve_dtype(torch.float32) is None
    assert resolve_dtype("bf16") is torch.bfloat16 and resolve_dtype("float16") is torch.float16
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("int8")


@pytest.mark.filterwarnings("ignore:this CPU has no native")
def test_inference_context_sets_modes() -> None:
    with inference_context("cpu"):
        assert torch.is_inference_mode_enabled() and not torch.is_autocast_enabled("cpu")
    with inference_context("cpu", "bf16"):
        assert torch.is_inference_mode_enabled() and torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    assert not torch.is_inference_mode_enabled()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_allocator_switch_round_trip() -> None:
    assert tune_cpu_allocator(True) and tune_cpu_allocator(True)
    assert tune_cpu_allocator(False) and tune_cpu_allocator(False)


def test_batch_size_for_budget_scales_with_model_size() -> None:
    from gpen_hf import GPENModel
    from gpen_hf.runtime import batch_size_for_budget, face_memory_bytes

    small = GPENModel(resolution=32, style_dim=16, n_mlp=1, channel_multiplier=1, narrow=0.0625)
    large = GPENModel(resolution=64, style_dim=16, n_mlp=1, channel_multiplier=1, narrow=0.0625)
    assert 0 < face_memory_bytes(small) < face_memory_bytes(large)
    one_large = face_memory_bytes(large) / 2**20
    assert batch_size_for_budget(large, 3.5 * one_large, 16) == 3
    assert batch_size_for_budget(large, 0.1 * one_large, 16) == 1  # never below one face
    assert batch_size_for_budget(large, 100 * one_large, 4) == 4  # never above the requested batch
    assert batch_size_for_budget(large, None, 5) == 5


@pytest.mark.filterwarnings("ignore:this CPU has no native")
def test_pipeline_batches_follow_memory_budget_and_dtype() -> None:
    import numpy as np

    from gpen_hf import GPENModel
    from gpen_hf.pipeline import GPENPipeline
    from gpen_hf.runtime import face_memory_bytes

    model = GPENModel(resolution=32, style_dim=16, n_mlp=1, channel_multiplier=1, narrow=0.0625)
    calls: list[int] = []
    model.register_forward_hook(lambda m, inp, out: calls.append(inp[0].shape[0]))
    pipe = GPENPipeline(model)
    crops = [np.full((32, 32, 3), 40 * i, np.uint8) for i in range(5)]
    one_face_mb = face_memory_bytes(model) / 2**20
    fp32 = pipe.restore_faces(crops, batch_size=4, memory_budget_mb=2.5 * one_face_mb)
    assert calls == [2, 2, 1]
    calls.clear()
    assert [r.shape for r in pipe.restore_faces(crops, batch_size=4, memory_budget_mb=None)] == [(32, 32, 3)] * 5
    assert calls == [4, 1]
    bf16 = pipe.restore_faces(crops, batch_size=5, autocast_dtype="bf16")
    assert max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(fp32, bf16)) <= 8
