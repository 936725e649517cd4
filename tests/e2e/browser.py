"""A real browser for the dashboard tests: Debian's Chromium (``make test`` installs it) driven by
Playwright's Python package (its sync API).

``playwright install`` downloads a browser from a CDN that not every machine reaches, so the tests use
the system's ``/usr/bin/chromium`` instead. Every page a test opens has its console watched: a console
message of type error or an uncaught exception fails the test (``ConsoleErrors``). Screenshots go to
``$NAS_SCREENSHOTS`` (default ``var/screenshots/``, which git ignores).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from nas.testing.browser import launch_chromium

ROOT = Path(__file__).resolve().parents[2]
# What a page script reads from a Plotly div: its traces with plain arrays (Plotly may hold typed ones).
PLOT_DATA = """(id) => {
  const plot = document.getElementById(id);
  const plain = (v) => (v && typeof v === 'object' && typeof v.length === 'number') ? Array.from(v, plain) : v;
  return plot.data.map((t) => ({name: t.name, mode: t.mode, x: plain(t.x || []), y: plain(t.y || []),
    customdata: plain(t.customdata || []), text: plain(t.text), hovertext: plain(t.hovertext),
    hovertemplate: t.hovertemplate}));
}"""
PLOT_READY = "(id) => { const p = document.getElementById(id); return !!(p && p._fullLayout && p.data); }"


def launch(playwright):
    """Chromium for the session; a missing binary fails (``make test`` installs it), never skips."""
    try:
        return launch_chromium(playwright)
    except FileNotFoundError as missing:
        pytest.fail(f"{missing}; `make test` does it too. Then run the tests again", pytrace=False)


def screenshots_folder() -> Path:
    folder = Path(os.environ.get("NAS_SCREENSHOTS") or ROOT / "var" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page, name: str) -> Path:
    """A full-page PNG of ``page`` as ``$NAS_SCREENSHOTS/NAME.png``."""
    path = screenshots_folder() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


class ConsoleErrors:
    """Console errors and uncaught exceptions of the pages it watches, each with the page's URL.

    Chromium itself logs every response with a 4xx status as a console error ("Failed to load
    resource: the server responded with a status of 422 (...)", located at the resource's URL), even
    when the page handles it. A test that provokes one on purpose (a refused form, an unknown id)
    admits exactly that with ``allow_status(status, url)``, for that test only.
    """

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[tuple[int, re.Pattern]] = []

    def watch(self, page) -> None:
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: uncaught {error}"))

    def _console(self, page, message) -> None:
        if message.type != "error":
            return
        where = (message.location or {}).get("url") or ""
        if self._admitted(message.text, where):
            return
        source = f" (at {where})" if where and where != page.url else ""
        self.errors.append(f"{page.url}: console error: {message.text}{source}")

    def _admitted(self, text: str, where: str) -> bool:
        status = re.match(r"Failed to load resource: the server responded with a status of (\d+)\b", text)
        return bool(status) and any(int(status.group(1)) == code and url.search(where)
                                    for code, url in self.allowed)

    def allow_status(self, status: int, url: str) -> None:
        """Admit Chromium's resource-load error for a response with ``status`` from a URL that the
        regular expression ``url`` matches (searched, so a path suffices)."""
        self.allowed.append((status, re.compile(url)))


def plot_ready(page, plot_id: str, timeout: float = 20_000) -> None:
    page.wait_for_function(PLOT_READY, arg=plot_id, timeout=timeout)


def plot_traces(page, plot_id: str) -> list[dict]:
    """The traces Plotly holds in ``div#plot_id`` (``gd.data``): name, mode, x, y, customdata, hover texts."""
    plot_ready(page, plot_id)
    return page.evaluate(PLOT_DATA, plot_id)


def plot_layout_shapes(page, plot_id: str) -> list[dict]:
    return page.evaluate("(id) => JSON.parse(JSON.stringify(document.getElementById(id).layout.shapes || []))",
                         plot_id)
