"""Convert the authors' release files (``GPEN-BFR-*.pth``) into ``from_pretrained`` folders.

The output is what the Hub expects: ``config.json`` + safetensors weights (optionally a dtype variant such as
``diffusion_pytorch_model.fp16.safetensors``) and a model card ``README.md`` with front matter. A discriminator
goes to ``discriminator/``: load it with ``GPENDiscriminator.from_pretrained(out / "discriminator")`` locally, or
``subfolder="discriminator"`` from a Hub repo (for a local folder, diffusers prefers the root's weights file when
both exist, so ``subfolder`` would pick the generator's).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from .faces.align import TEMPLATES_512
from .models import GPENDiscriminator, GPENModel
from .registry import GPEN_LICENCE, KnownWeights

VARIANT_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_card(model: GPENModel, source: Path, sha256: str, discriminator: bool,
               entry: KnownWeights | None = None) -> str:
    """A short Hub model card for a converted official checkpoint (its registry entry, when it has one)."""
    cfg = model.config
    n_params = sum(p.numel() for p in model.parameters())
    points = ", ".join(f"({x:g}, {y:g})" for x, y in TEMPLATES_512[cfg.face_template].tolist())
    origin = f" (`{entry.name}`: {entry.repo_type} repo `{entry.repo_id}`)" if entry else ""
    lines = [
        "---",
        "library_name: gpen-hf",
        "pipeline_tag: image-to-image",
        "license: other",
        "tags:",
        "- face-restoration",
        "- gpen",
        "- stylegan2",
        "---",
        "",
        f"# GPEN {cfg.resolution}x{cfg.resolution} (converted from `{source.name}`)",
        "",
        ("GAN Prior Embedded Network for blind face restoration (Yang et al., CVPR 2021, arXiv 2105.06070), "
        "converted with `gpen-hf convert` from the authors' release file, with no change to any weight."),
        "",
        f"- source file: `{source.name}`{origin} (sha256 `{sha256}`)",
        (f"- resolution {cfg.resolution}, style_dim {cfg.style_dim}, n_mlp {cfg.n_mlp}, channel_multiplier "
        f"{cfg.channel_multiplier}, narrow {cfg.narrow}, noise_mode `{cfg.noise_mode}`; {n_params / 1e6:.1f} M "
        "parameters"),
        f"- discriminator: {'included in `discriminator/`' if discriminator else 'not included'}",
        (f"- face alignment: `face_template: {cfg.face_template}` in config.json, the 5 points at 512 px "
         f"(eyes, nose, mouth corners) {points}; the pipeline aligns faces to it"),
        "",
        "```python",
        "from gpen_hf import GPENPipeline",
        f"pipe = GPENPipeline.from_pretrained(\"{entry.name if entry else 'PATH_OR_REPO_ID'}\")",
        "restored = pipe(\"photo.jpg\").image",
        "```",
        "",
        f"Licence: {entry.licence if entry else GPEN_LICENCE}; check the authors' terms before any other use.",
        "",
    ]
    return "\n".join(lines)


def convert_original_checkpoint(
    checkpoint: str | Path,
    output_dir: str | Path,
    discriminator: str | Path | None = None,
    variant: str | None = None,
    entry: KnownWeights | None = None,
) -> Path:
    """Load ``checkpoint`` (and optionally a discriminator file), check them, and save a pretrained folder.

    ``entry``: the registry entry the file was fetched for (its template and licence go into the folder)."""
    checkpoint, output_dir = Path(checkpoint), Path(output_dir)
    if variant is not None and variant not in VARIANT_DTYPES:
        raise ValueError(f"variant must be one of {sorted(VARIANT_DTYPES)} or None, got {variant!r}")
    model = GPENModel.from_original_checkpoint(checkpoint, **(
        {"face_template": entry.face_template} if entry and entry.face_template else {}))
    disc = GPENDiscriminator.from_original_checkpoint(discriminator) if discriminator else None
    if disc is not None and disc.config.resolution != model.config.resolution:
        raise ValueError(
            f"{discriminator}: discriminator resolution {disc.config.resolution} does not match the generator's "
            f"{model.config.resolution} ({checkpoint})"
        )
    dtype = VARIANT_DTYPES.get(variant) if variant else None
    output_dir.mkdir(parents=True, exist_ok=True)
    for net, folder in ((model, output_dir), (disc, output_dir / "discriminator")):
        if net is None:
            continue
        if dtype is not None:
            net = net.to(dtype)
        net.save_pretrained(folder, variant=variant, safe_serialization=True)
    (output_dir / "README.md").write_text(model_card(model, checkpoint, sha256_file(checkpoint), disc is not None,
                                                           entry))
    return output_dir
