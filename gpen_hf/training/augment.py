"""Differentiable augmentation (DiffAugment, Zhao et al., NeurIPS 2020) for GAN training on small data sets.

The same random transform family is applied to real and generated images before the discriminator, and every
op is differentiable so the generator gets gradients through it. Policies: ``color`` (brightness, saturation,
contrast), ``translation`` (shift by up to 1/8 of the size, zero fill) and ``cutout`` (a zeroed square of
half the size). Inputs are (N, C, H, W) in [-1, 1].
"""

from __future__ import annotations

import torch

POLICIES = ("color", "translation", "cutout")


def _rand(x: torch.Tensor, *shape: int, generator: torch.Generator | None = None) -> torch.Tensor:
    return torch.rand(*shape, generator=generator, device="cpu").to(device=x.device, dtype=x.dtype)


def rand_color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness (±0.5), saturation (×0–2) and contrast (×0.5–1.5), per sample."""
    n = x.shape[0]
    x = x + (_rand(x, n, 1, 1, 1, generator=generator) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, n, 1, 1, 1, generator=generator) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_rand(x, n, 1, 1, 1, generator=generator) + 0.5) + mean


def rand_translation(x: torch.Tensor, ratio: float = 0.125, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each sample by a random integer offset up to ``ratio`` of its size; vacated pixels are zero."""
    n, _, h, w = x.shape
    sx, sy = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sx, sx + 1, (n, 1, 1), generator=generator).to(x.device)
    ty = torch.randint(-sy, sy + 1, (n, 1, 1), generator=generator).to(x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    padded = torch.nn.functional.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    return padded.permute(0, 2, 3, 1).contiguous()[gb, gx, gy].permute(0, 3, 1, 2)


def rand_cutout(x: torch.Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero a random square of ``ratio`` × the size in each sample (may be partly outside the image)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=generator).to(x.device)
    oy = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=generator).to(x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(ch, device=x.device),
                                torch.arange(cw, device=x.device), indexing="ij")
    gx = torch.clamp(gx + ox - ch // 2, 0, h - 1)
    gy = torch.clamp(gy + oy - cw // 2, 0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


_OPS = {"color": rand_color, "translation": rand_translation, "cutout": rand_cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` → tuple of op names; empty string or ``"none"`` → no augmentation."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip() and p.strip() != "none")
    unknown = [p for p in names if p not in _OPS]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown}; choose from {POLICIES}")
    return names


def diff_augment(x: torch.Tensor, policy: str | tuple[str, ...] = POLICIES,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the ops of ``policy`` in order (differentiable w.r.t. ``x``)."""
    names = parse_policy(policy) if isinstance(policy, str) else policy
    for name in names:
        x = _OPS[name](x, generator=generator)
    return x
