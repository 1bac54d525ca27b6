"""Winograd convolution F(m x m, 3 x 3) in plain PyTorch ops: fewer multiplies for 3x3, stride-1 convolutions.

A 3x3 convolution computes each m x m output tile from an (m+2) x (m+2) input tile. Winograd's minimal
filtering (Lavin & Gray, 2016) transforms input tiles (``B^T d B``) and filters (``G g G^T``) so that the tile
becomes an elementwise product, i.e. one matrix product per tile position over the channels:
``(m+2)^2`` GEMMs of (tiles x C_in) @ (C_in x C_out) instead of a convolution with 9 m^2 taps per tile.
F(2x2, 3x3) does 2.25x fewer multiplies, F(4x4, 3x3) 4x fewer, at the price of the tile transforms
(memory-bound passes) and a little fp32 precision (F(4x4) uses the points 0, +-1, +-2; see the tests).

Layout is channels_last throughout (``(N, H, W, C)`` in memory): the transforms are small dense matrix products
over the tile axes and the GEMMs contract the contiguous channel axis. Everything here is exact maths on
tensors; which layers use it, and how style modulation enters, is the caller's business
(:class:`.modulated.ModulatedConv2d`).
"""

from __future__ import annotations

from functools import cache

import torch
import torch.nn.functional as F

TILES = (2, 4)


def winograd_tile(in_channel: int, out_channel: int, height: int, width: int) -> int | None:
    """The Winograd tile size to use for a 3x3 convolution of this shape, or ``None`` for direct convolution.

    A fixed rule read off ``benchmarks/bench_winograd.py`` (2-core AVX2 CPU, fp32, batch 1; table in
    ``benchmarks/RESULTS.md``): F(4x4) wins 1.8-2.2x where the GEMMs are wide (both channel counts >= 256) and
    the layer is big (>= 1024 x 512 channels x 32 x 32 pixels, ~10 GFLOP direct). Smaller layers stay direct
    (the transformed filters, 4x the direct ones, are read for too few tiles), and so do narrow layers on large
    images (the tile transforms, memory-bound passes, cost more than the multiplies they save). A rule on the
    shape only, so results never depend on timing noise.
    """
    if min(in_channel, out_channel) >= 256 and in_channel * out_channel * height * width >= 1024 * 512 * 32 * 32:
        return 4
    return None


@cache
def _matrices(m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B^T, G, A^T) of F(m, 3) in float64: input (a x a), filter (a x 3), output (m x a) transforms, a = m + 2."""
    if m == 2:
        bt = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        g = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        at = [[1, 1, 1, 0], [0, 1, -1, -1]]
    elif m == 4:
        bt = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
              [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
        g = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
             [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]
        at = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
    else:
        raise ValueError(f"Winograd tile size must be one of {TILES}, got {m}")
    return (torch.tensor(bt, dtype=torch.float64), torch.tensor(g, dtype=torch.float64),
            torch.tensor(at, dtype=torch.float64))


def winograd_weight(weight: torch.Tensor, m: int) -> torch.Tensor:
    """Filters (C_out, C_in, 3, 3) → transformed filters (a*a, C_in, C_out), ready for :func:`winograd_conv2d`.

    Tile positions are ordered (column, row), as :func:`winograd_conv2d` produces them. Computed in float64 and
    cast back, so the transform itself adds no rounding error.
    """
    if weight.ndim != 4 or weight.shape[2:] != (3, 3):
        raise ValueError(f"winograd_weight expects (C_out, C_in, 3, 3) filters, got {tuple(weight.shape)}")
    _, g, _ = _matrices(m)
    g = g.to(weight.device)
    u = g @ weight.double() @ g.t()  # (O, I, a, a): rows, columns
    a = m + 2
    return u.permute(3, 2, 1, 0).reshape(a * a, weight.shape[1], weight.shape[0]).to(weight.dtype)


def winograd_conv2d(
    x: torch.Tensor,
    u: torch.Tensor,
    m: int,
    bias: torch.Tensor | None = None,
    in_scale: torch.Tensor | None = None,
    out_scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """``F.conv2d(x * in_scale, w, padding=1) * out_scale + bias`` for 3x3 filters ``w`` given as
    ``u = winograd_weight(w, m)``.

    ``x``: (N, C_in, H, W), any size and batch (tiles past the border see zero padding and are cropped).
    ``in_scale`` (N, C_in) and ``out_scale`` (N, C_out) are per-sample channel scales (style modulation and
    demodulation): they ride along in the copies the algorithm makes anyway, so they cost nothing and the
    transformed filters can stay cached. ``bias``: (C_out,). Returns (N, C_out, H, W), channels_last.
    """
    n, c, h, w = x.shape
    a = m + 2
    if u.shape[0] != a * a or u.shape[1] != c:
        raise ValueError(f"transformed filters {tuple(u.shape)} do not fit F({m}, 3) on {c} input channels")
    th, tw = -(-h // m), -(-w // m)  # tiles per axis
    p, o = n * th * tw, u.shape[2]
    # Zero-bordered, channels-last copy of x (times in_scale): tiles past the image see zeros.
    x = x.permute(0, 2, 3, 1)
    scale_in = None if in_scale is None else in_scale.to(x.dtype).view(n, 1, 1, c)
    pad = (0, 0, 1, tw * m + 1 - w, 1, th * m + 1 - h)
    inplace = not (torch.is_grad_enabled() or torch.jit.is_tracing() or torch.compiler.is_compiling())
    if inplace:  # write the scaled input straight into the padded buffer: no extra pass
        xp = x.new_empty(n, th * m + 2, tw * m + 2, c)
        for border in (xp[:, 0], xp[:, h + 1 :], xp[:, :, 0], xp[:, :, w + 1 :]):
            border.zero_()
        inner = xp[:, 1 : h + 1, 1 : w + 1]
        if scale_in is None:
            inner.copy_(x)
        else:
            torch.mul(x, scale_in, out=inner)
    else:
        xp = F.pad(x if scale_in is None else x * scale_in, pad)
    # Input tiles as a strided view [column offset, row offset, tile, channel]; one copy gathers them and one
    # product with B^T (x) B^T transforms them all.
    bk, ak = _kron(m, x.dtype, x.device)
    s = xp.stride()
    tiles = xp.as_strided((a, a, n, th, tw, c), (s[2], s[1], s[0], m * s[1], m * s[2], 1))
    v = (bk @ tiles.reshape(a * a, -1)).view(a * a, p, c)
    prod = torch.bmm(v, u.to(x.dtype))  # (a*a, P, C_out): one GEMM per tile position
    y = (ak @ prod.view(a * a, -1)).view(m, m, n, th, tw, o).permute(2, 3, 1, 4, 0, 5)  # (N, th, r, tw, s, O)
    scale_out = None if out_scale is None else out_scale.to(x.dtype).view(-1, 1, 1, 1, 1, o)
    bias = None if bias is None else bias.to(x.dtype).view(1, 1, 1, 1, 1, o)
    if inplace:  # scale and bias in the copy that lays the tiles out as an image
        out = x.new_empty(n, th * m, tw * m, o)
        tiled = out.view(n, th, m, tw, m, o)
        if scale_out is None and bias is None:
            tiled.copy_(y)
        elif scale_out is None:
            torch.add(y, bias, out=tiled)
        elif bias is None:
            torch.mul(y, scale_out, out=tiled)
        else:
            torch.addcmul(bias, y, scale_out, out=tiled)
    else:
        y = y if scale_out is None else y * scale_out
        out = (y if bias is None else y + bias).reshape(n, th * m, tw * m, o)
    return out[:, :h, :w].permute(0, 3, 1, 2)


@cache
def _kron(m: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2-D tile transforms as single matrices over (column, row)-ordered tiles: B^T (x) B^T, A^T (x) A^T.

    One product each (36 x 36 for F(4x4)) instead of two passes of 6 x 6 products: measured faster here, the
    tile data being read and written once."""
    bt, _, at = _matrices(m)
    return torch.kron(bt, bt).to(device, dtype), torch.kron(at, at).to(device, dtype)
