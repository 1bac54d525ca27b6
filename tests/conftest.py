"""What the tests share: the tiny model configuration, the folded-vs-grouped comparison and the Space's tiny
model and clip."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from _models import TINY_GPEN

from gpen_hf import set_implementation


@pytest.fixture(scope="session")
def tiny_space_model(tmp_path_factory: pytest.TempPathFactory):
    """A saved seeded random 64-px GPEN whose card says it is untrained: the model of the Space tests."""
    from _space_app import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("space") / "tiny-gpen")


@pytest.fixture(scope="session")
def space_clip(tmp_path_factory: pytest.TempPathFactory):
    """An 8-frame 128×96 MP4 (with sound) panning over the Space's one-face example photo."""
    import cv2
    import numpy as np
    from _space_app import SMALL_PHOTO

    from gpen_hf.video.synthetic import pan_zoom_transforms, render_clip, write_clip

    image = np.ascontiguousarray(cv2.imread(str(SMALL_PHOTO))[:, :, ::-1])
    frames = render_clip(image, pan_zoom_transforms(8, (128, 96), (image.shape[1], image.shape[0])), (128, 96))
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_clip(path, frames)
    return path


@pytest.fixture(scope="session")
def tiny_config() -> dict:
    """``GPENModel(**tiny_config)``: the tiny GPEN of the model tests (read it, do not change it)."""
    return dict(TINY_GPEN)


@pytest.fixture(scope="module")
def tiny_gpen_with_skips(tiny_config: dict):
    """The tiny GPEN in eval mode with its encoder → decoder path switched on (the official init leaves the
    noise-injection scales at 0), one per test module: what export tests compare graphs on."""
    from gpen_hf import GPENModel

    torch.manual_seed(0)
    model = GPENModel(**tiny_config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("noise.weight"):
                p.fill_(0.5)
    return model


def _folded_and_grouped(module: torch.nn.Module, *inputs: torch.Tensor):
    """Forward + backward folded and grouped; returns ((out, grads) folded, (out, grads) grouped)."""
    results = []
    for impl in ("folded", "grouped"):
        set_implementation(module, impl)
        module.zero_grad()
        leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
        out = module(*leaves)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads = [t.grad for t in leaves] + [p.grad.clone() for p in module.parameters() if p.grad is not None]
        results.append((out.detach(), grads))
    return results


def _folded_vs_grouped(module: torch.nn.Module, *inputs: torch.Tensor, atol: float = 1e-5,
                       rtol: float = 1e-4) -> torch.Tensor:
    (out, grads), (ref, ref_grads) = _folded_and_grouped(module, *inputs)
    torch.testing.assert_close(out, ref, atol=atol, rtol=0)
    assert len(grads) == len(ref_grads) and len(ref_grads) > 1
    for g, g_ref in zip(grads, ref_grads):
        torch.testing.assert_close(g, g_ref, atol=atol, rtol=rtol)
    return out


@pytest.fixture
def folded_vs_grouped() -> Callable[..., torch.Tensor]:
    """``folded_vs_grouped(module, *inputs, atol=1e-5, rtol=1e-4)``: asserts that both implementations give the
    same output and gradients (inputs' and parameters'); returns the folded output."""
    return _folded_vs_grouped
