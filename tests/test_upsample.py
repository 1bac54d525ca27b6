"""Background upsamplers: tiles match one pass; the authors' Real-ESRNet by name through the pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _hub_cache import authors_rrdbnet_file, entry, put_file
from _models import TINY_GPEN_64
from huggingface_hub import constants
from PIL import Image

from gpen_hf import GPENModel, GPENPipeline, registry
from gpen_hf.models.rrdbnet import RRDBNet
from gpen_hf.upsample import (
    DEFAULT_OVERLAP,
    RealESRNetUpsampler,
    get_upsampler,
    tile_for_budget,
    upsample_tiled,
)

FIXTURES = Path(__file__).parent / "fixtures"
PHOTO = FIXTURES / "photos" / "faceapi__sample6_one_face.jpg"


def _contrasty(scale: str) -> RRDBNet:
    """The conformance net with a stronger output layer, so a seam would show in grey levels."""
    net = RRDBNet.from_original_checkpoint(FIXTURES / "conformance" / "aux" / f"rrdbnet_{scale}" / "model.pth")
    with torch.no_grad():
        net.conv_last.weight.mul_(8)
        net.conv_last.bias.fill_(0.5)
    return net


@pytest.mark.parametrize("scale", ["x2", "x4"])
def test_tiles_with_the_default_overlap_match_one_pass_within_2_grey_levels(scale: str) -> None:
    net = _contrasty(scale)
    image = np.asarray(Image.open(PHOTO).convert("RGB"))[:96, :131]  # odd width: padded for the unshuffle
    whole = upsample_tiled(net, image, tile=10**6).astype(int)
    assert whole.shape == (96 * net.config.scale, 131 * net.config.scale, 3) and whole.std() > 20
    assert np.abs(upsample_tiled(net, image, tile=48, overlap=DEFAULT_OVERLAP) - whole).max() <= 2
    assert np.abs(upsample_tiled(net, image, tile=48, overlap=0) - whole).max() > 20  # no overlap: seams


def test_tile_size_follows_the_memory_bound() -> None:
    net = RRDBNet(num_feat=32, num_block=1, num_grow_ch=32, scale=2)
    small, large = tile_for_budget(net, 64), tile_for_budget(net, 1024)
    assert small % 8 == 0 and 3 * 4 * 4 * 32 * small**2 <= 64 * 2**20 and 3.5 * small < large <= 4 * small + 8


def test_exact_factor_from_the_networks_scale() -> None:
    up = RealESRNetUpsampler(RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=2), tile=32)
    image = np.full((30, 41, 3), 128, np.uint8)
    assert up(image, 2).shape == (60, 82, 3) and up(image, 1.5).shape == (45, 62, 3)
    assert up(image, 3).shape == (90, 123, 3) and up(image, 0.5).shape == (15, 20, 3)


def test_realesrnet_by_name_in_the_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("GPEN_HF_CACHE", str(tmp_path / "gpen-hf"))
    data = authors_rrdbnet_file()
    put_file(tmp_path / "hub", "someone/esr", "esr_x2.pth", data)
    monkeypatch.setitem(registry.REGISTRY, "test-esr", entry("test-esr", "realesrnet", "someone/esr", "esr_x2.pth",
                                                              data))
    up = get_upsampler("test-esr")
    assert isinstance(up, RealESRNetUpsampler) and up.net.config.scale == 2
    pipe = GPENPipeline(GPENModel(**TINY_GPEN_64))
    out = pipe(PHOTO, upscale=2, background_upsampler="test-esr", max_faces=1, output_type="np")
    h, w = np.asarray(Image.open(PHOTO)).shape[:2]
    assert out.image.shape == (2 * h, 2 * w, 3)
    with pytest.raises(ValueError, match="not a background upsampler"):
        get_upsampler("gpen-bfr-512")
