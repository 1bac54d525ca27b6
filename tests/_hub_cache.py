"""A Hugging Face Hub cache laid out as ``huggingface_hub`` lays it out, filled by the tests (no network).

``{models|spaces}--owner--name/blobs/<sha256>``, ``snapshots/<commit>/<path>`` as a relative symlink to the
blob, and ``refs/main`` holding the commit; plus test-only registry entries pointing at such files.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import torch
from _models import TINY_GPEN_64

from gpen_hf.registry import GPEN_LICENCE, KnownWeights

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TINY_RRDB = {"num_feat": 8, "num_block": 1, "num_grow_ch": 4, "scale": 2}


def put_file(cache: Path, repo_id: str, path_in_repo: str, data: bytes, repo_type: str = "model") -> Path:
    """Store ``data`` as ``path_in_repo`` of ``repo_id`` at revision main; returns the blob."""
    repo = cache / f"{repo_type}s--{repo_id.replace('/', '--')}"
    blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    link = repo / "snapshots" / COMMIT / path_in_repo
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return blob


def authors_gpen_file(seed: int = 0) -> bytes:
    """A random-weight ``TINY_GPEN_64`` generator in the release layout (``torch.save(state_dict)``), noise weights non-zero."""
    from gpen_hf.models import GPENModel

    torch.manual_seed(seed)
    state = GPENModel(**TINY_GPEN_64).state_dict()
    for key, value in state.items():
        if key.endswith("noise.weight"):
            value.normal_(0, 0.5)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def authors_rrdbnet_file(seed: int = 0) -> bytes:
    """A random RRDBNet in the Real-ESRGAN release layout: ``{"params": ..., "params_ema": ...}``."""
    from gpen_hf.models.rrdbnet import RRDBNet

    torch.manual_seed(seed)
    ema, plain = RRDBNet(**TINY_RRDB).state_dict(), RRDBNet(**TINY_RRDB).state_dict()
    buffer = io.BytesIO()
    torch.save({"params": plain, "params_ema": ema}, buffer)
    return buffer.getvalue()


def entry(name: str, kind: str, repo_id: str, filename: str, data: bytes, repo_type: str = "model",
          digest_chars: int = 64) -> KnownWeights:
    """A registry entry for ``data`` (``digest_chars=8``: a prefix-only entry, like two of the real ones)."""
    return KnownWeights(name, kind, repo_id, repo_type, filename, len(data),
                        hashlib.sha256(data).hexdigest()[:digest_chars], f"test {kind} weights", GPEN_LICENCE,
                        "gpen" if kind == "gpen" else None)
