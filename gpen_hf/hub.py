"""The one answer to "what is this model source": a folder, a training checkpoint, an authors' ``.pth``, a
registry name (``gpen-bfr-512``) or a Hugging Face Hub repo id, turned into a local ``from_pretrained`` folder.

Registry names are fetched through ``huggingface_hub`` (its cache, ``HF_HUB_OFFLINE``, ``HF_TOKEN``, its progress
bar), checked on size and sha256, and converted once into a safetensors folder kept next to the Hub cache
(``$GPEN_HF_CACHE``, default ``$HF_HOME/gpen-hf``); later loads use that folder and touch neither the network
nor the ``.pth``. Every failure is one :class:`ModelSourceError` line that says what is true (not in the local
cache, Hub not reachable, no such repo, not a gpen-hf model folder) and what to run; the Hub is asked once, with
no retry loop. Nothing here runs unless a caller asks for a source: the shipped model needs no network.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from . import registry
from .convert import convert_original_checkpoint, sha256_file
from .registry import KnownWeights

__all__ = [
    "ModelNotFoundError",
    "ModelSource",
    "ModelSourceError",
    "WeightsMismatchError",
    "cache_root",
    "converted_folder",
    "fetch",
    "is_cached",
    "pretrained_folder",
    "resolve",
    "verify",
]

_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
_PTH_SUFFIXES = (".pth", ".pt")
#: the converted folder's record of the file it was made from
SOURCE_RECORD = "gpen_hf_source.json"


class ModelSourceError(OSError):
    """A model source that cannot be loaded; the message is one line meant for the user."""


class ModelNotFoundError(ModelSourceError, FileNotFoundError):
    """Not there: no such folder/file/repo/name, not in the local cache, or the Hub not reachable."""


class WeightsMismatchError(ModelSourceError):
    """A downloaded file whose size or sha256 is not the registry's."""


@dataclass(frozen=True)
class ModelSource:
    """What a source string is.

    ``kind``: ``"folder"`` (a local folder; its config.json may be in a subfolder), ``"checkpoint"`` (a training
    run or checkpoint: the model is in ``generator/``), ``"pth"`` (an authors'-format file), ``"registry"`` (a
    name of :mod:`gpen_hf.registry`) or ``"hub"`` (a repo id). ``location`` is the path, name or repo id;
    ``entry`` the registry entry, if any.
    """

    kind: str
    location: str
    entry: KnownWeights | None = None

    @property
    def model_subfolder(self) -> str | None:
        """Where the generator is inside the source (``generator`` for training runs and checkpoints)."""
        return "generator" if self.kind == "checkpoint" else None

    def holds(self, subfolder: str) -> bool:
        """Whether a local source has a model in ``subfolder`` (e.g. a checkpoint's ``discriminator``)."""
        return self.kind in ("folder", "checkpoint") and (Path(self.location) / subfolder / "config.json").is_file()


def resolve(source: str | Path) -> ModelSource:
    """Classify ``source`` without downloading anything; ModelNotFoundError for what cannot be any kind."""
    text = str(source)
    path = Path(text).expanduser()
    if path.is_file():
        if path.suffix.lower() in _PTH_SUFFIXES:
            return ModelSource("pth", str(path))
        raise ModelNotFoundError(f"{path} is a file, not a model folder (an authors' checkpoint ends in .pth)")
    if path.is_dir():  # whether it holds a model (maybe in a subfolder) is checked by pretrained_folder
        checkpoint = (path / "generator" / "config.json").is_file() and not (path / "config.json").is_file()
        return ModelSource("checkpoint" if checkpoint else "folder", str(path))
    if text in registry.REGISTRY:
        return ModelSource("registry", text, registry.REGISTRY[text])
    looks_local = path.is_absolute() or text.startswith((".", "~")) or len(Path(text).parts) > 2
    if looks_local or path.suffix.lower() in _PTH_SUFFIXES:
        raise ModelNotFoundError(f"model folder not found: {path}")
    if _HUB_ID.match(text):
        return ModelSource("hub", text)
    raise ModelNotFoundError(f"unknown model {text!r}: not a folder, not a .pth file, not a Hub repo id "
                             f"(owner/name) and not a known name ({', '.join(registry.names('gpen'))}; "
                             "see `gpen-hf models`)")


#: the model class each kind of weights loads into (the Hub config's ``_class_name``)
CLASS_OF_KIND = {"gpen": "GPENModel", "parsenet": "ParseNet", "realesrnet": "RRDBNet"}


def pretrained_folder(source: str | Path, subfolder: str | None = None, kind: str = "gpen") -> tuple[Path, str | None]:
    """A local folder (and subfolder) that ``from_pretrained`` can load with no network, for any ``source``.

    Registry names are fetched and converted once; Hub repos downloaded (config and safetensors only); an
    authors' ``.pth`` is converted into a temporary folder (on the fly, not cached). ``kind``: what the caller
    loads (a key of :data:`CLASS_OF_KIND`); a registry name or Hub folder of another kind is refused.
    """
    found = resolve(source)
    if found.kind in ("folder", "checkpoint"):
        folder = Path(found.location)
        target = folder / subfolder if subfolder else folder
        if not (target / "config.json").is_file():
            hint = (f" (a training checkpoint keeps its model in {target / 'generator'})"
                    if (target / "generator" / "config.json").is_file() else "")
            raise ModelNotFoundError(f"{target} is not a model folder: it has no config.json{hint}")
        return folder, subfolder
    if found.kind == "pth":
        return _convert_on_the_fly(Path(found.location), kind), None
    if found.kind == "registry":
        if found.entry.kind != kind:
            raise ModelNotFoundError(f"{found.location!r} is {found.entry.description}, not a "
                                     f"{CLASS_OF_KIND[kind]}")
        return converted_folder(found.entry), None
    return _hub_model_folder(found.location, subfolder, CLASS_OF_KIND[kind])


# ---------------------------------------------------------------- registry files: fetch, verify, convert


def cache_root() -> Path:
    """Where converted registry weights are kept: ``$GPEN_HF_CACHE``, else ``$HF_HOME/gpen-hf``."""
    return Path(os.environ.get("GPEN_HF_CACHE") or Path(constants.HF_HOME) / "gpen-hf").expanduser()


def verify(path: Path, entry: KnownWeights) -> str:
    """Check ``path`` against ``entry``'s size and sha256 (or its prefix); returns the full digest."""
    size = path.stat().st_size
    if size != entry.size:
        raise WeightsMismatchError(f"{path}: {size:,} bytes, but {entry.name} ({entry.filename}) is "
                                   f"{entry.size:,} bytes")
    digest = sha256_file(path)
    if not digest.startswith(entry.sha256):
        raise WeightsMismatchError(f"{path}: sha256 {digest}, but {entry.name} ({entry.filename}) has "
                                   f"sha256 {entry.sha256}{'' if entry.full_digest else '…'}")
    return digest


def fetch(entry: KnownWeights) -> tuple[Path, str]:
    """The verified release file of ``entry`` in the Hub cache (downloaded if needed) and its sha256.

    A cached file that fails the check is fetched again when the Hub is reachable, else reported.
    """
    path, online = _hub_file(entry.repo_id, entry.filename, entry.repo_type, entry.revision, what=entry.name)
    try:
        return path, verify(path, entry)
    except WeightsMismatchError as err:
        if not online:
            raise WeightsMismatchError(f"{err}. The cached file is damaged; run `gpen-hf download {entry.name}` "
                                       "with the internet to fetch it again") from None
    path, _ = _hub_file(entry.repo_id, entry.filename, entry.repo_type, entry.revision, what=entry.name,
                        force=True)
    return path, verify(path, entry)


def _converted_candidates(entry: KnownWeights) -> list[Path]:
    base = cache_root() / entry.name
    return sorted(p for p in base.glob("*") if p.is_dir() and p.name.startswith(entry.sha256[:16])) if (
        base.is_dir()) else []


def _complete(folder: Path) -> bool:
    record = folder / SOURCE_RECORD
    if not record.is_file() or not (folder / "config.json").is_file():
        return False
    sizes = json.loads(record.read_text()).get("files", {})
    return bool(sizes) and all((folder / n).is_file() and (folder / n).stat().st_size == s for n, s in sizes.items())


def is_cached(entry: KnownWeights) -> bool:
    """Whether ``entry`` loads with no network: converted already, or its release file is in the Hub cache."""
    if any(_complete(f) for f in _converted_candidates(entry)):
        return True
    try:
        hf_hub_download(entry.repo_id, entry.filename, repo_type=entry.repo_type, revision=entry.revision,
                        local_files_only=True)
        return True
    except (LocalEntryNotFoundError, OSError, ValueError):
        return False


def converted_folder(entry: KnownWeights) -> Path:
    """The safetensors folder of ``entry`` (converted on first use, reused after; a damaged one is redone)."""
    for folder in _converted_candidates(entry):
        if _complete(folder):
            return folder
    path, digest = fetch(entry)
    final = cache_root() / entry.name / digest[:16]
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{digest[:16]}-", dir=final.parent))
    try:
        _convert(entry.kind, path, work, entry)
        files = {p.name: p.stat().st_size for p in work.iterdir() if p.suffix == ".safetensors"}
        record = {"name": entry.name, "repo_id": entry.repo_id, "filename": entry.filename, "sha256": digest,
                  "files": files}
        (work / SOURCE_RECORD).write_text(json.dumps(record, indent=1))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def _convert(kind: str, path: Path, out: Path, entry: KnownWeights | None = None) -> None:
    """An authors' file of ``kind`` as a from_pretrained folder in ``out`` (with the entry's card, if any)."""
    if kind == "gpen":
        convert_original_checkpoint(path, out, entry=entry)
        return
    from .models import ParseNet
    from .models.rrdbnet import RRDBNet

    cls = {"parsenet": ParseNet, "realesrnet": RRDBNet}[kind]
    cls.from_original_checkpoint(path).save_pretrained(out, safe_serialization=True)
    if entry is not None:
        (out / "README.md").write_text(f"# {entry.name}\n\n{entry.description}, converted by gpen-hf from "
                                       f"`{entry.repo_id}/{entry.filename}`.\n\nLicence: {entry.licence}.\n")


def _convert_on_the_fly(path: Path, kind: str) -> Path:
    """An authors' file as a from_pretrained folder in a temporary directory, removed when the process ends
    (not before: the loaded weights may be memory-mapped from it)."""
    out = Path(tempfile.mkdtemp(prefix="gpen_hf_pth_"))
    atexit.register(shutil.rmtree, out, True)
    _convert(kind, path, out)
    return out


# ---------------------------------------------------------------- the Hub, asked once


def _hub_file(repo_id: str, filename: str, repo_type: str = "model", revision: str | None = None, *,
              what: str, force: bool = False) -> tuple[Path, bool]:
    """``hf_hub_download`` with one metadata request first (no retry loop) and one-line errors; returns the
    local file and whether the Hub answered (False: offline, or unreachable and served from the cache)."""
    where = f"{filename} of {repo_type} repo {repo_id}"
    named = what in registry.REGISTRY
    kwargs = {"repo_id": repo_id, "filename": filename, "repo_type": repo_type, "revision": revision}
    if constants.is_offline_mode():
        try:
            return Path(hf_hub_download(**kwargs, local_files_only=True)), False
        except LocalEntryNotFoundError:
            todo = (f"run `gpen-hf download {what}` with the internet first" if named
                    else "unset it to download")
            raise ModelNotFoundError(f"{what}: {where} is not in the local Hugging Face cache and HF_HUB_OFFLINE "
                                     f"is set: {todo}") from None
    try:
        get_hf_file_metadata(hf_hub_url(**kwargs), timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except GatedRepoError:
        raise ModelNotFoundError(f"{what}: {repo_id} is gated; accept its terms on the Hub and set HF_TOKEN") from None
    except RevisionNotFoundError:
        raise ModelNotFoundError(f"{what}: {repo_id} has no revision {revision!r}") from None
    except RepositoryNotFoundError:
        raise ModelNotFoundError(f"{what}: no {repo_type} repo {repo_id} on the Hugging Face Hub (or it is "
                                 "private: set HF_TOKEN)") from None
    except EntryNotFoundError:
        raise ModelNotFoundError(f"{what}: {repo_type} repo {repo_id} has no file {filename}") from None
    except HfHubHTTPError as err:
        raise ModelSourceError(f"{what}: the Hub refused {where}: {str(err).splitlines()[0]}") from None
    except Exception as err:  # noqa: BLE001 - any other failure of one HEAD request: the Hub is not reachable
        try:
            return Path(hf_hub_download(**kwargs, local_files_only=True)), False
        except LocalEntryNotFoundError:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            todo = f"; run `gpen-hf download {what}` once online" if named else ""
            raise ModelNotFoundError(f"{what}: the Hugging Face Hub is not reachable ({reason}) and {where} is "
                                     f"not in the local cache{todo}") from None
    return Path(hf_hub_download(**kwargs, force_download=force)), True


def _hub_model_folder(repo_id: str, subfolder: str | None, expected: str) -> tuple[Path, str | None]:
    """Download a gpen-hf model folder (config, card, safetensors) from the Hub; say so if it is none."""
    prefix = f"{subfolder.strip('/')}/" if subfolder else ""
    try:
        config, online = _hub_file(repo_id, f"{prefix}config.json", what=repo_id)
    except ModelNotFoundError as err:
        if "has no file" not in str(err):
            raise
        known = [e.name for e in registry.REGISTRY.values() if e.repo_id == repo_id]
        tip = f"; it holds the authors' weights known as {known[0]!r}: use that name" if known else ""
        raise ModelNotFoundError(f"{repo_id} is not a gpen-hf model folder (no {prefix}config.json){tip}") from None
    class_name = json.loads(config.read_text()).get("_class_name")
    if class_name != expected:
        raise ModelNotFoundError(f"{repo_id} is not a gpen-hf model folder: its {prefix}config.json is for "
                                 f"{class_name or 'no known class'}, not {expected}")
    patterns = [f"{prefix}{p}" for p in ("config.json", "README.md", "diffusion_pytorch_model*.safetensors")]
    folder = snapshot_download(repo_id, allow_patterns=patterns, local_files_only=not online)
    return Path(folder), subfolder
