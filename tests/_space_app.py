"""Helpers shared by the Space tests: a tiny random model, the app module, and launching it in-process."""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPACE = ROOT / "space"
EXAMPLES = SPACE / "examples"
PHOTO = EXAMPLES / "faceapi__sample3.jpg"  # three faces
SMALL_PHOTO = EXAMPLES / "matplotlib__grace_hopper.jpg"  # one face, 512×600
FACE = EXAMPLES / "faceapi__sample6__f0_256.png"  # aligned
LAB_PARAMS = ("Gaussian", 21, 1.0, 0, 0, 4, 5, 50)  # the lab's blur, kernel, σ, motion len, angle, s, noise, JPEG

TINY_CARD = """---
tags: [untrained, gpen-hf-test]
---
# Tiny GPEN test model

Random, untrained weights (seeded), 64 px, made by the tests to exercise the app quickly.
"""


def make_tiny_model(folder: Path) -> Path:
    """Save a seeded random ``GPENModel(**TINY_GPEN_64)`` with a card that says it is untrained."""
    import torch
    from _models import TINY_GPEN_64

    from gpen_hf import GPENModel

    torch.manual_seed(0)
    model = GPENModel(**TINY_GPEN_64)
    model.save_pretrained(folder)
    (folder / "README.md").write_text(TINY_CARD)
    return folder


def load_app_module():
    """Import ``space/app.py`` as the module ``gpen_space_app`` (``space/`` is not a package)."""
    if "gpen_space_app" in sys.modules:
        return sys.modules["gpen_space_app"]
    spec = importlib.util.spec_from_file_location("gpen_space_app", SPACE / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpen_space_app"] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(model_dir: Path):
    """Build the app around ``model_dir`` and start it on 127.0.0.1; returns ``(demo, url)``."""
    app = load_app_module()
    demo = app.create_app(str(model_dir))
    port = free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        ssr_mode=False,
        **app.LAUNCH_KWARGS,
    )
    return demo, f"http://127.0.0.1:{port}/"
