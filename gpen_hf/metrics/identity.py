"""Identity similarity: cosine of 128-d face descriptors.

The descriptor net is face-api.js' ``FaceRecognitionNet`` (a port of dlib's ResNet-29 face recognition
model, 99.38% on LFW), weights from the MIT-licensed npm package ``@vladmandic/face-api`` 1.7.15, repacked
losslessly into ``gpen_hf/assets/face_recognition_faceapi.safetensors``. Implemented here in plain torch.

OpenCV's SFace was the first choice but no PyPI/npm package ships its ONNX (the packages that use it
download it at run time), so it is not used.

Inputs are faces aligned to the FFHQ-style 5-point template (``gpen_hf.faces.FFHQ_TEMPLATE_512``) at any
resolution; ``face_chip`` crops the region that matches dlib's 150x150 face chip (padding 0.25) approximately.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from ._image import ImageLike, to_float_tensor

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "assets" / "face_recognition_faceapi.safetensors"
CHIP = 150
_MEAN_RGB = (122.782, 117.001, 104.298)
# (left, top, right, bottom) as fractions of an FFHQ-aligned square face: about dlib's chip framing
CHIP_BOX = (0.1, 0.2, 0.9, 1.0)
_BLOCKS = (
    ("conv32_1", False), ("conv32_2", False), ("conv32_3", False),
    ("conv64_down", True), ("conv64_1", False), ("conv64_2", False), ("conv64_3", False),
    ("conv128_down", True), ("conv128_1", False), ("conv128_2", False),
    ("conv256_down", True), ("conv256_1", False), ("conv256_2", False),
    ("conv256_down_out", True),
)  # fmt: skip


class _ConvScale(nn.Module):
    """conv (+bias) followed by a per-channel affine ``scale`` layer (dlib's folded batch norm)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, padding: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding)
        self.weight = nn.Parameter(torch.ones(cout))
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class _Residual(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = _ConvScale(cin, cout, 3, 2 if down else 1, 0 if down else 1)
        self.conv2 = _ConvScale(cout, cout, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        if self.down:
            x = F.avg_pool2d(x, 2, 2)
            if x.shape[-2:] != out.shape[-2:]:  # TF 'valid' conv is one short: pad bottom/right with zeros
                out = F.pad(out, (0, x.shape[-1] - out.shape[-1], 0, x.shape[-2] - out.shape[-2]))
            if x.shape[1] != out.shape[1]:
                x = torch.cat([x, torch.zeros_like(x)], dim=1)
        return F.relu(out + x)


class FaceRecognitionNet(nn.Module):
    """128-d face descriptor; ``forward`` takes ``(N, 3, 150, 150)`` RGB in [0, 1]."""

    def __init__(self, weights: str | Path | None = DEFAULT_WEIGHTS) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(_MEAN_RGB).view(1, 3, 1, 1) / 255.0, persistent=False)
        self.stem = _ConvScale(3, 32, 7, 2, 0)
        blocks, c = [], 32
        for name, down in _BLOCKS:
            cout = int(name[4:7]) if name[4:7].isdigit() else int(name[4:6])
            blocks.append(_Residual(c, cout, down))
            c = cout
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(256, 128, bias=False)
        if weights is not None:
            self.load_state_dict(_load_faceapi(Path(weights)), strict=True)
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) * (255.0 / 256.0)
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean(dim=(2, 3)))


def _load_faceapi(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"face recognition weights not found at {path}")
    raw = load_file(str(path))
    tf: dict[str, torch.Tensor] = {}
    for key, val in raw.items():
        if key.endswith(".qparams"):
            continue
        if key.endswith(".q"):
            scale, lo = raw[key[:-2] + ".qparams"].tolist()
            tf[key[:-2]] = val.float() * scale + lo
        else:
            tf[key] = val.float()

    def conv_scale(prefix: str, tf_prefix: str) -> dict[str, torch.Tensor]:
        return {
            f"{prefix}.conv.weight": tf[f"{tf_prefix}/conv/filters"].permute(3, 2, 0, 1).contiguous(),
            f"{prefix}.conv.bias": tf[f"{tf_prefix}/conv/bias"],
            f"{prefix}.weight": tf[f"{tf_prefix}/scale/weights"],
            f"{prefix}.bias": tf[f"{tf_prefix}/scale/biases"],
        }

    state = conv_scale("stem", "conv32_down")
    for i, (name, _) in enumerate(_BLOCKS):
        state |= conv_scale(f"blocks.{i}.conv1", f"{name}/conv1")
        state |= conv_scale(f"blocks.{i}.conv2", f"{name}/conv2")
    state["fc.weight"] = tf["fc"].t().contiguous()
    return state


def face_chip(img: ImageLike, box: tuple[float, float, float, float] = CHIP_BOX) -> torch.Tensor:
    """Crop aligned faces (uint8 HWC RGB or float [0, 1] NCHW) to ``(N, 3, 150, 150)`` in [0, 1]."""
    t = to_float_tensor(img, "face")
    h, w = t.shape[-2:]
    if abs(h - w) > 0.02 * max(h, w):
        raise ValueError(f"identity expects square aligned faces (FFHQ-style template), got {h}x{w}")
    if min(h, w) < 64:
        raise ValueError(f"identity needs aligned faces of at least 64x64 pixels, got {h}x{w}")
    l, t0, r, b = round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)
    crop = t[..., t0:b, l:r]
    return F.interpolate(crop, size=(CHIP, CHIP), mode="bilinear", align_corners=False, antialias=True)


def face_embedding(img: ImageLike, model: FaceRecognitionNet | None = None) -> torch.Tensor:
    """Unit-norm 128-d descriptors ``(N, 128)`` of aligned faces."""
    model = model if model is not None else FaceRecognitionNet()
    dev = next(model.parameters()).device
    with torch.no_grad():
        return F.normalize(model(face_chip(img).to(dev)), dim=1)


def identity_similarity(img_a: ImageLike, img_b: ImageLike, model: FaceRecognitionNet | None = None) -> float:
    """Cosine similarity of the face descriptors of two aligned faces (1 = same descriptor); batch mean."""
    model = model if model is not None else FaceRecognitionNet()
    ea, eb = face_embedding(img_a, model), face_embedding(img_b, model)
    if ea.shape != eb.shape:
        raise ValueError(f"batch sizes differ: {ea.shape[0]} vs {eb.shape[0]}")
    return float((ea * eb).sum(dim=1).mean())
