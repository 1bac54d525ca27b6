"""GPENPipeline on real photos: identity geometry, options, odd inputs, and a real (tiny) GPENModel."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from _models import TINY_GPEN_64, Identity
from PIL import Image

from gpen_hf.image_io import ImageLoadError
from gpen_hf.metrics import psnr
from gpen_hf.pipeline import GPENPipeline, GPENPipelineOutput

PHOTOS = Path(__file__).parent / "fixtures" / "photos"
GROUP = PHOTOS / "faceapi__sample5_1024.jpg"


class Constant(torch.nn.Module):
    """Returns mid-grey faces: makes every restored region obvious."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        return (torch.zeros_like(x),)


@pytest.fixture(scope="module")
def identity() -> GPENPipeline:
    return GPENPipeline(Identity(), resolution=512)


def photo(name: str = "faceapi__sample5_1024.jpg") -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(PHOTOS / name))[:, :, ::-1])


def test_identity_model_reproduces_the_photo(identity: GPENPipeline) -> None:
    out = identity(GROUP, output_type="np")
    assert isinstance(out, GPENPipelineOutput) and out.num_faces == 5
    assert out.image.shape == photo().shape and psnr(out.image, photo()) > 40
    assert out.boxes.shape == (out.num_faces, 4) and out.landmarks.shape == (out.num_faces, 5, 2)
    assert all(c.shape == (512, 512, 3) for c in out.cropped_faces)


def test_pil_output_and_batching_do_not_change_results() -> None:
    pipe = GPENPipeline(Constant(), resolution=64)
    one = pipe(photo(), batch_size=1, output_type="np").image
    many = pipe(Image.fromarray(photo()), batch_size=16)
    assert isinstance(many.image, Image.Image) and np.array_equal(np.asarray(many.image), one)
    assert isinstance(many.restored_faces[0], Image.Image)


def test_alpha_zero_keeps_the_input_face() -> None:
    pipe = GPENPipeline(Constant(), resolution=128)
    out = pipe(photo(), alpha=0.0, output_type="np")
    assert psnr(out.image, photo()) > 30
    full = pipe(photo(), alpha=1.0, mask="square", colour_match=False, identity_guard=False, output_type="np")
    assert psnr(full.image, photo()) < 25 and all(f.alpha == 1.0 for f in full.fidelity)


def test_face_selection(identity: GPENPipeline) -> None:
    one = identity(photo(), only_center_face=True, output_type="np")
    assert one.num_faces == 1
    two = identity(photo(), max_faces=2, output_type="np")
    all_faces = identity(photo(), output_type="np")
    iod = np.linalg.norm(all_faces.landmarks[:, 1] - all_faces.landmarks[:, 0], axis=1)
    assert two.num_faces == 2 and np.allclose(
        sorted(np.linalg.norm(two.landmarks[:, 1] - two.landmarks[:, 0], axis=1)), sorted(iod)[-2:])


def test_upscale_doubles_size_and_keeps_geometry(identity: GPENPipeline) -> None:
    out = identity(photo(), upscale=2, output_type="np")
    reference = cv2.resize(photo(), None, fx=2, fy=2, interpolation=cv2.INTER_LANCZOS4)
    assert out.image.shape == reference.shape and psnr(out.image, reference) > 35


def test_no_face_returns_input_unchanged(identity: GPENPipeline) -> None:
    sky = np.tile(np.linspace(0, 255, 200, dtype=np.uint8)[None, :, None], (120, 1, 3))
    out = identity(sky, output_type="np")
    assert out.num_faces == 0 and np.array_equal(out.image, sky) and "no face" in out.message


def test_rgba_gray_and_tiny_inputs(identity: GPENPipeline, tmp_path: Path) -> None:
    rgba = np.dstack([photo(), np.full(photo().shape[:2], 128, np.uint8)])
    out = identity(rgba, output_type="np")
    assert out.image.shape[2] == 4 and (out.image[..., 3] == 128).all()
    assert identity(rgba).image.mode == "RGBA"
    gray = cv2.cvtColor(photo(), cv2.COLOR_RGB2GRAY)
    assert identity(gray, output_type="np").num_faces == 5
    assert identity(np.zeros((3, 2, 3), np.uint8), output_type="np").num_faces == 0


def test_exif_rotated_selfie_is_found(identity: GPENPipeline) -> None:
    out = identity(PHOTOS / "faceapi__sample2_exif6.jpg", output_type="np")
    assert out.image.shape[:2] == (672, 504) and out.num_faces == 1


def test_aligned_mode_restores_whole_input(identity: GPENPipeline) -> None:
    crop = cv2.resize(photo()[100:400, 100:400], (300, 300))
    out = identity(crop, aligned=True, output_type="np")
    assert out.num_faces == 1 and out.image.shape == crop.shape and psnr(out.image, crop) > 30


def test_bad_inputs(identity: GPENPipeline, tmp_path: Path) -> None:
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ImageLoadError, match="x.jpg"):
        identity(tmp_path / "x.jpg")
    with pytest.raises(ValueError, match="alpha"):
        identity(photo(), alpha=2.0)
    with pytest.raises(ValueError, match="resolution"):
        GPENPipeline(Identity())


def test_with_a_real_tiny_gpen_model(tmp_path: Path) -> None:
    from gpen_hf.models.gpen import GPENModel

    model = GPENModel(**TINY_GPEN_64)
    model.save_pretrained(tmp_path / "m")
    pipe = GPENPipeline.from_pretrained(tmp_path / "m", torch_dtype=torch.float32, device="cpu")
    assert pipe.resolution == 64
    out = pipe(PHOTOS / "faceapi__sample6_one_face.jpg", output_type="np")
    assert out.num_faces == 1 and out.restored_faces[0].shape == (64, 64, 3)
    assert out.image.shape == photo("faceapi__sample6_one_face.jpg").shape


def test_pipeline_picks_the_path_measured_fastest_on_its_device() -> None:
    from gpen_hf import set_implementation
    from gpen_hf.models.gpen import GPENModel
    from gpen_hf.models.modulated import ModulatedConv2d
    from gpen_hf.pipeline import use_fastest_path

    model = set_implementation(GPENModel(resolution=16, style_dim=32, n_mlp=1, channel_multiplier=1, narrow=0.125),
                               "grouped")

    def impls() -> set[str]:
        return {m.impl for m in model.modules() if isinstance(m, ModulatedConv2d)}

    GPENPipeline(model)  # on the CPU: the fast path
    assert impls() == {"folded"}
    use_fastest_path(model, torch.device("cuda"))  # only flags: no GPU needed to check the choice
    assert impls() == {"grouped"}


def test_missing_default_model_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from gpen_hf import pipeline

    monkeypatch.setattr(pipeline, "DEFAULT_MODEL_DIR", tmp_path / "gpen-default")
    with pytest.raises(FileNotFoundError, match="gpen-default.*--model"):
        GPENPipeline.from_pretrained()


def test_local_paths_that_are_no_model_folder_are_explained(tmp_path: Path) -> None:
    from gpen_hf.models.gpen import GPENModel

    with pytest.raises(FileNotFoundError, match=f"model folder not found: {tmp_path / 'missing'}"):
        GPENPipeline.from_pretrained(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="model folder not found"):  # the model's own loader checks it
        GPENModel.from_pretrained(str(tmp_path / "missing"))
    # A training checkpoint: the model is in its generator/ subfolder, and the error says so.
    GPENModel(resolution=16, style_dim=32, n_mlp=1, channel_multiplier=1, narrow=0.125).save_pretrained(
        tmp_path / "checkpoint-200" / "generator")
    with pytest.raises(FileNotFoundError, match="checkpoint-200 is not a model folder.*checkpoint-200/generator"):
        GPENPipeline.from_pretrained(tmp_path / "checkpoint-200")
    assert GPENPipeline.from_pretrained(tmp_path / "checkpoint-200", subfolder="generator").resolution == 16
