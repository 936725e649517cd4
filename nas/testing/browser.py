"""Debian's headless Chromium driven by Playwright, for the dashboard's tests and bench.

``playwright install`` downloads a browser from a CDN that not every machine reaches, so both use the
system's ``/usr/bin/chromium`` (``make chromium`` installs it).
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def launch_chromium(playwright):
    """The system's Chromium through ``playwright`` (its sync API); ``FileNotFoundError`` when it is missing."""
    if not CHROMIUM.is_file():
        raise FileNotFoundError(f"{CHROMIUM} not found: `make chromium` installs it (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
