"""Training data: aligned faces from one or more sources, turned into HQ images (stage 1) or LQ/HQ pairs (stage 2).

A *source* is a folder (searched recursively) or a manifest (``.txt``: one path a line; ``.csv``: a ``file``
column, optionally only the rows whose columns hold given values, e.g. ``split=train``) of square faces of any
size and format, area-resized to the training resolution. Each source has a weight: how many times each of its faces appears per epoch on average (2: twice;
0.5: a random half of them, drawn anew each epoch), so small clean sources can outweigh large noisy ones.

Determinism is by *stream position*, not by worker: the run reads one endless stream of samples (epoch ``e``
is a permutation seeded by ``(seed, e)``), micro-batch ``m`` of rank ``r`` holds positions
``m·B·W + r·B … + B − 1`` and every random choice of sample ``p`` (which face, the degradation, the flip, the
jitter) comes from generators seeded by ``[seed, p, …]``. So a resumed run continues with exactly the batches the
uninterrupted one would have seen, for any number of data-loader workers.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset, Sampler

from gpen_hf.faces.align import resize_face
from gpen_hf.image_io import IMAGE_EXTENSIONS

from .interrupts import CHECKPOINT_SIGNALS

#: faces are kept in memory (uint8, at the size they are loaded at) up to this many bytes, else read on demand
MAX_CACHE_BYTES = 2 * 1024**3
#: jittered faces are warped at this multiple of the training resolution, then area-downscaled
JITTER_OVERSAMPLE = 4
#: jitter strengths must be below this (at 0.5 a face could be shifted by half its size)
MAX_JITTER = 0.5


def find_images(root: str | Path, extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> list[Path]:
    """Image files under ``root`` (recursive, sorted); a clear error if there are none."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"training data directory {str(root)!r} does not exist")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in extensions)
    if not paths:
        raise ValueError(f"no images found in {str(root)!r} (searched recursively for {', '.join(extensions)})")
    return paths


def read_manifest(path: str | Path, where: Mapping[str, str] | None = None) -> list[Path]:
    """Faces listed in a manifest: ``.txt`` (one path a line, ``#`` comments) or ``.csv`` (column ``file``;
    with ``where``, only rows whose columns hold those values, e.g. ``{"split": "train"}``). Relative paths are
    relative to the manifest."""
    import csv

    path = Path(path)
    if path.suffix.lower() == ".csv":
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if rows and "file" not in rows[0]:
            raise ValueError(f"manifest {str(path)!r} has no 'file' column (columns: {', '.join(rows[0])})")
        for column, value in (where or {}).items():
            if rows and column not in rows[0]:
                raise ValueError(f"manifest {str(path)!r} has no {column!r} column (asked for {column}={value})")
            rows = [r for r in rows if r[column] == value]
        names = [r["file"] for r in rows if Path(r["file"]).suffix.lower() in IMAGE_EXTENSIONS]
    else:
        lines = (line.strip() for line in path.read_text().splitlines())
        names = [line for line in lines if line and not line.startswith("#")]
    files = [p if p.is_absolute() else path.parent / p for p in map(Path, names)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"manifest {str(path)!r} lists {len(missing)} missing file(s), e.g. {missing[0]!r}")
    if not files:
        raise ValueError(f"manifest {str(path)!r} lists no images" + (f" where {dict(where)}" if where else ""))
    return files


def source_images(source: str | Path, where: Mapping[str, str] | None = None) -> list[Path]:
    """The faces of one source: a folder (:func:`find_images`) or a ``.txt``/``.csv`` manifest."""
    source = Path(source)
    if source.is_file() and source.suffix.lower() in (".txt", ".csv"):
        return read_manifest(source, where)
    return find_images(source)


def load_face(path: Path, resolution: int) -> np.ndarray:
    """Read an aligned face as RGB uint8 and resize it to ``resolution``² (area filter when shrinking)."""
    with Image.open(path) as im:
        rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    if rgb.shape[0] != rgb.shape[1]:
        raise ValueError(f"{path}: aligned faces must be square, got {rgb.shape[1]}x{rgb.shape[0]}")
    return np.ascontiguousarray(resize_face(rgb, resolution))


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 H×W×3 → float (3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


class FaceStream(Dataset):
    """Aligned faces addressed by stream position (see the module docstring); item = ``{"target": HQ}``.

    Args:
        root: one source or a list of sources (folders of aligned square faces, searched recursively for
            :data:`IMAGE_EXTENSIONS`, or manifests; see the module docstring).
        resolution: training size; faces are resized to it once.
        seed: seed of the permutations and of per-sample randomness.
        flip_prob: probability of a horizontal flip of the HQ face (StyleGAN2's x-flips).
        jitter: strength ``j`` of a random similarity transform of the HQ face, like the error of a 5-point
            alignment: shift up to ``j``·size in x and y, scale in [1 − j, 1 + j], rotation up to ``j``·60°
            (0 turns it off; 0.04 moves a 128-px face up to 5 px and turns it up to 2.4°). The warp runs at
            :data:`JITTER_OVERSAMPLE` × ``resolution`` and is then area-downscaled, so the HQ face keeps its
            detail (a cubic warp at ``resolution`` itself removes a fifth of the Laplacian energy).
        source_weights: one weight per source (default all 1): mean appearances of each of its faces per epoch.
        manifest_filter: for ``.csv`` manifests, only rows whose columns hold these values.
    """

    def __init__(self, root: str | Path | Sequence[str | Path], resolution: int, seed: int = 0,
                 flip_prob: float = 0.5, jitter: float = 0.0, source_weights: Sequence[float] | None = None,
                 manifest_filter: Mapping[str, str] | None = None):
        if not 0.0 <= jitter < MAX_JITTER:
            raise ValueError(f"jitter must be in [0, {MAX_JITTER}), got {jitter}")
        roots = [root] if isinstance(root, (str, Path)) else list(root)
        weights = [1.0] * len(roots) if source_weights is None else [float(w) for w in source_weights]
        if len(weights) != len(roots):
            raise ValueError(f"got {len(weights)} source weights for {len(roots)} sources")
        if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
            raise ValueError(f"source weights must be >= 0 with at least one > 0, got {weights}")
        per_source = [source_images(r, manifest_filter) for r in roots]
        self.paths = [p for paths in per_source for p in paths]
        starts = np.cumsum([0] + [len(p) for p in per_source])
        self._sources = [(int(start), len(paths), w) for start, paths, w in zip(starts, per_source, weights)]
        self._epoch_length = sum(int(w) * n + round((w % 1) * n) for _, n, w in self._sources)
        self.resolution = resolution
        self.seed = seed
        self.flip_prob = flip_prob
        self.jitter = jitter
        self._load_size = resolution * (JITTER_OVERSAMPLE if jitter else 1)
        self._cache: list[np.ndarray] | None = None
        self._perm: tuple[int, np.ndarray] = (-1, np.empty(0, dtype=np.int64))
        if len(self.paths) * self._load_size**2 * 3 <= MAX_CACHE_BYTES:
            self._cache = [load_face(p, self._load_size) for p in self.paths]

    def __len__(self) -> int:
        """Samples per epoch (the number of faces when every source weight is 1)."""
        return self._epoch_length

    def _epoch_indices(self, epoch: int) -> np.ndarray:
        """Face indices of one epoch before shuffling: each source's faces ``int(w)`` times, plus a random
        ``w % 1`` fraction of them drawn anew each epoch."""
        picks = []
        for i, (start, count, weight) in enumerate(self._sources):
            picks += [np.arange(start, start + count)] * int(weight)
            extra = round((weight % 1) * count)
            if extra:
                rng = np.random.default_rng([self.seed, epoch, 8, i])
                picks.append(start + np.sort(rng.choice(count, extra, replace=False)))
        return np.concatenate(picks)

    def _permutation(self, epoch: int) -> np.ndarray:
        if self._perm[0] != epoch:  # one permutation per epoch, cached (positions arrive nearly in order)
            indices = self._epoch_indices(epoch)
            self._perm = (epoch, indices[np.random.default_rng([self.seed, epoch, 7]).permutation(len(indices))])
        return self._perm[1]

    def face(self, position: int) -> np.ndarray:
        """The HQ face at stream ``position`` (uint8 H×W×3; oversampled when jitter is on)."""
        epoch, offset = divmod(int(position), self._epoch_length)
        index = int(self._permutation(epoch)[offset])
        return self._cache[index] if self._cache is not None else load_face(self.paths[index], self._load_size)

    def rng(self, position: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(position)])

    def flip_rng(self, position: int) -> np.random.Generator:
        """The generator whose first draw decides the flip of sample ``position``."""
        return self.rng(position)

    def hq_face(self, position: int) -> np.ndarray:
        """The HQ face at ``position``, mirrored with probability ``flip_prob``, then jittered."""
        face = self.face(position)
        if self.flip_prob and self.flip_rng(position).random() < self.flip_prob:
            face = np.ascontiguousarray(face[:, ::-1])
        if self.jitter:
            face = self._jittered(face, np.random.default_rng([self.seed, int(position), 2]))
            face = resize_face(face, self.resolution)  # from the oversampled size: the area filter
        return face

    def _jittered(self, face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``face`` under a random similarity transform about its centre (borders reflected, as in alignment)."""
        j, size = self.jitter, face.shape[0]
        shift_x, shift_y, scale, angle = rng.uniform(-1.0, 1.0, size=4) * (j * size, j * size, j, j * 60.0)
        matrix = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), angle, 1.0 + scale)
        matrix[:, 2] += (shift_x, shift_y)
        return cv2.warpAffine(face, matrix, (face.shape[1], size), flags=cv2.INTER_CUBIC,
                              borderMode=cv2.BORDER_REFLECT_101)

    def __getitem__(self, position: int) -> dict[str, torch.Tensor]:
        return {"target": to_tensor(self.hq_face(position))}


class DegradedPairStream(FaceStream):
    """LQ/HQ pairs made on the fly with :mod:`gpen_hf.degradation`; item = ``{"target", "lq"}`` in [-1, 1].

    ``preset`` is ``"paper"`` or ``"gfpgan"``; the gfpgan preset's flips apply to both images. ``flip_prob``
    and ``jitter`` transform the HQ face before it is degraded (so LQ and HQ stay paired); they draw from
    their own random streams, so turning them on leaves every sample's degradation parameters unchanged.
    """

    def __init__(self, root: str | Path | Sequence[str | Path], resolution: int, seed: int = 0,
                 preset: str = "paper", flip_prob: float = 0.0, jitter: float = 0.0,
                 source_weights: Sequence[float] | None = None, manifest_filter: Mapping[str, str] | None = None):
        from gpen_hf import degradation

        if preset not in degradation.PRESETS:
            raise ValueError(f"unknown degradation preset {preset!r}; choose from {sorted(degradation.PRESETS)}")
        super().__init__(root, resolution, seed, flip_prob=flip_prob, jitter=jitter,
                         source_weights=source_weights, manifest_filter=manifest_filter)
        self.preset = preset

    def flip_rng(self, position: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(position), 1])  # not rng(): that one draws the degradation

    def __getitem__(self, position: int) -> dict[str, torch.Tensor]:
        from gpen_hf import degradation

        params = degradation.sample(self.rng(position), self.preset, resolution=self.resolution)
        target, lq = degradation.degrade_pair(self.hq_face(position), params)
        return {"target": to_tensor(target), "lq": to_tensor(lq)}


class StreamSampler(Sampler[int]):
    """Endless stream positions for one rank, starting at micro-batch ``start_batch`` (for resuming)."""

    def __init__(self, batch_size: int, rank: int = 0, world_size: int = 1, start_batch: int = 0):
        self.batch_size, self.rank, self.world_size, self.start_batch = batch_size, rank, world_size, start_batch

    def __iter__(self) -> Iterator[int]:
        batch = self.start_batch
        while True:
            first = (batch * self.world_size + self.rank) * self.batch_size
            yield from range(first, first + self.batch_size)
            batch += 1


def _worker_init(_: int) -> None:
    # Degradation is numpy/OpenCV work: one thread per worker so the workers don't fight the training step.
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    # The checkpoint signals (SIGUSR1, SIGTERM: .interrupts) are for the training process; a worker that died of
    # one sent to the whole process group would end the run before its checkpoint. Workers leave when it does.
    for sig in CHECKPOINT_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _worker_start_method() -> str | None:
    """Start workers from a fresh process where the platform can, never by forking this one.

    OpenCV's thread pool does not survive ``fork``: once the parent has run a parallel OpenCV call (a cubic
    upscale while loading small faces, say), a forked worker's first OpenCV call hangs for ever.
    """
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else None


def make_loader(dataset: Dataset, batch_size: int, rank: int = 0, world_size: int = 1, start_batch: int = 0,
                num_workers: int = 1) -> Iterator[dict[str, torch.Tensor]]:
    """Endless iterator of this rank's micro-batches, from micro-batch ``start_batch`` on."""
    sampler = StreamSampler(batch_size, rank, world_size, start_batch)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                        worker_init_fn=_worker_init if num_workers else None,
                        multiprocessing_context=_worker_start_method() if num_workers else None,
                        persistent_workers=num_workers > 0, prefetch_factor=4 if num_workers else None,
                        generator=torch.Generator().manual_seed(0))  # keep the global RNG untouched
    return iter(loader)
