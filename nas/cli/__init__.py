"""The ``nas`` command line (typer): ``nas serve``, ``spaces``, ``proxies``, ``profile``, ``recalibrate``,
``merge-profiles``, ``speed-check``, ``search``, ``devices``, ``export``, ``kit``, ``datasets``, ``keys``.

One module per command group; importing them registers their commands on ``app``."""

from nas.cli._common import app

# isort: off
# Imported for their commands, in the order `nas --help` lists them (typer keeps registration order).
from nas.cli import serve, profiles, search, export, devices, datasets, keys  # noqa: F401
# isort: on

__all__ = ["app"]
