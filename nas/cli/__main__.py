"""``python -m nas.cli ...``: the same commands as the ``nas`` script."""

from nas.cli import app

app()
