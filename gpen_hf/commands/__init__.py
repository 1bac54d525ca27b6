"""Subcommands of the ``gpen-hf`` CLI; each module has ``register(subparsers)``."""
