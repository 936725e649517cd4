"""Writes a bench's current table into docs/benchmarks.md, between markers named after the bench.

Each section is replaced whole (the current figures only; git keeps the history), dated, with the
machine that made it.
"""

from __future__ import annotations

import platform
import re
from datetime import datetime, timezone
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs/benchmarks.md"
HEADER = "# Benchmarks\n\nThe current figures of each bench script, written by the script itself (`--write`).\n"


def machine() -> str:
    """This host in a few words: CPU model, family and model, cores."""
    from nas.latency.shipped import host_cpu

    return f"{host_cpu()}; Python {platform.python_version()}"


def write_section(name: str, title: str, body: str) -> None:
    """Replace (or append) the section ``name`` of docs/benchmarks.md with ``body``, dated."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = (f"<!-- {name}:start -->\n## {title}\n\n_{stamp}, on {machine()}._\n\n{body.strip()}\n"
             f"<!-- {name}:end -->")
    text = DOC.read_text() if DOC.exists() else HEADER
    pattern = re.compile(rf"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(text)
    print(f"wrote the {name!r} section of {DOC}")
