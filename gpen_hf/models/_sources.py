"""The one extension point of ``from_pretrained``: a resolver the layer above fills in.

``models/`` knows no registry names, Hub errors or release files. :class:`ResolvesSources` gives a model class a
``source_resolver`` class attribute, ``(source, subfolder) -> (local folder, subfolder)``, that its
``from_pretrained`` calls before diffusers; ``gpen_hf/__init__`` sets it to :func:`gpen_hf.hub.pretrained_folder`
(for the class's kind of weights), and Python runs that file before any ``gpen_hf.models`` import. None:
sources go to diffusers unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

SourceResolver = Callable[[str | Path, str | None], tuple[str | Path, str | None]]


class ResolvesSources:
    """Mixin (before ``ModelMixin``): ``from_pretrained`` takes whatever ``source_resolver`` can turn into a folder."""

    source_resolver: ClassVar[SourceResolver | None] = None

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs):
        """diffusers' loader, after :attr:`source_resolver` (when set) has made the source a local folder: a
        folder, a Hub repo id, a registry name (``"gpen-bfr-512"``) or an authors' ``.pth`` all load."""
        if cls.source_resolver is not None:
            pretrained_model_name_or_path, subfolder = cls.source_resolver(pretrained_model_name_or_path,
                                                                           kwargs.pop("subfolder", None))
            if subfolder:
                kwargs["subfolder"] = subfolder
        return super().from_pretrained(pretrained_model_name_or_path, **kwargs)
