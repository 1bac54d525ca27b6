"""The authors' weights by name: where each release file lives on the Hugging Face Hub and how to check it.

Data only (no downloads here; :mod:`gpen_hf.hub` fetches, verifies and converts). Sizes and digests are those
of the Hub's LFS pointers. A digest of 8 hex digits is a prefix: the full sha256 of that file was not found in
any public source we could read, so the file is checked on its size and that prefix (``KnownWeights.full_digest``
says which).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GPEN_LICENCE", "REGISTRY", "KnownWeights", "get", "names"]

GPEN_LICENCE = "© Alibaba, 2021. For academic and non-commercial use only (yangxy/GPEN release)"


@dataclass(frozen=True)
class KnownWeights:
    """One release file.

    Attributes:
        name: what users type (``gpen-bfr-512``); never contains ``/``, so it cannot clash with a Hub id.
        kind: ``"gpen"`` (a generator for :class:`~gpen_hf.models.GPENModel`), ``"realesrnet"`` (an RRDBNet
            background upsampler) or ``"parsenet"`` (:class:`~gpen_hf.models.ParseNet`, face parsing).
        repo_id, repo_type, filename, revision: where the file is on the Hub.
        size: bytes. sha256: full digest, or its first 8 hex digits (see the module docstring).
        description, licence: shown by ``gpen-hf models`` and written into the converted folder's model card.
        face_template: the 5-point alignment the weights were trained on (``"gpen"``: the authors'; see
            :data:`gpen_hf.faces.align.TEMPLATES_512`), or None for networks that see no aligned face.
    """

    name: str
    kind: str
    repo_id: str
    repo_type: str
    filename: str
    size: int
    sha256: str
    description: str
    licence: str
    face_template: str | None = None
    revision: str | None = None

    @property
    def full_digest(self) -> bool:
        return len(self.sha256) == 64


REGISTRY: dict[str, KnownWeights] = {
    entry.name: entry
    for entry in (
        KnownWeights(
            "gpen-bfr-512", "gpen", "akhaliq/GPEN-BFR-512", "model", "GPEN-BFR-512.pth", 284_085_738,
            "f1002c41add95b0decad69604d80455576f7187dd99ca16bd611bcfd44c10b51",
            "the authors' GPEN-BFR-512 generator (512 px, 71.0 M parameters)", GPEN_LICENCE, "gpen",
        ),
        KnownWeights(
            "gpen-bfr-256", "gpen", "ygtxr1997/ReliableSwap_Demo", "space",
            "third_party/GPEN/weights/GPEN-BFR-256.pth", 75_573_183, "56ba6ed9",
            "the authors' GPEN-BFR-256 generator (256 px, 18.9 M parameters)", GPEN_LICENCE, "gpen",
        ),
        KnownWeights(
            "parsenet", "parsenet", "akhaliq/ParseNet-latest", "model", "ParseNet-latest.pth", 85_331_193,
            "3d558d8d0e42c20224f13cf5a29c79eba2d59913419f945545d8cf7b72920de2",
            "the authors' face-parsing ParseNet (their paste-back mask)", GPEN_LICENCE,
        ),
        KnownWeights(
            "realesrnet-x2", "realesrnet", "akhaliq/realesrnet_x2", "model", "realesrnet_x2.pth", 77_228_423,
            "a8bc646e", "the authors' Real-ESRNet x2 background upsampler (RRDBNet, 32 features, 23 blocks)",
            GPEN_LICENCE,
        ),
    )
}


def get(name: str) -> KnownWeights:
    """The entry called ``name``; a KeyError listing the known names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown weights name {name!r}; known: {', '.join(REGISTRY)}") from None


def names(kind: str | None = None) -> list[str]:
    """Registered names, optionally only those of one ``kind``."""
    return [n for n, e in REGISTRY.items() if kind is None or e.kind == kind]
