"""A real ``nas serve`` (uvicorn) in a subprocess on a loopback port, for the end-to-end tests.

Starting, waiting for health and stopping are ``nas.testing.serve``'s (the benches share them); this
adds an HTTP client for ``/api/v1`` and waits that fail the test. A test that fails shows the log's tail.
"""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from nas.testing.serve import ServeError, ServeProcess, isolated_env

FINAL = {"succeeded", "failed", "cancelled"}


def wait_until(check, timeout: float, what: str, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (OSError, httpx.TransportError):
            pass
        time.sleep(every)
    pytest.fail(f"timed out after {timeout} s waiting for {what}", pytrace=False)


class Service(ServeProcess):
    """``nas serve`` with the given environment; ``client`` talks to its ``/api/v1``."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        log = tempfile.NamedTemporaryFile(dir=folder, prefix="serve-", suffix=".log", delete=False).name
        super().__init__(isolated_env(folder / "var", env), Path(log))
        self.client = httpx.Client(base_url=self.api, timeout=30)

    def start(self, timeout: float = 120) -> dict:
        try:
            health = super().start(timeout)
        except ServeError as error:
            pytest.fail(str(error), pytrace=False)
        self.client.base_url = self.api  # another port if the first was taken meanwhile
        return health

    def stop(self, kill: bool = False) -> None:
        """SIGTERM (uvicorn's graceful shutdown), or SIGKILL: what a crash or the OOM killer does."""
        super().stop(signal.SIGKILL if kill else signal.SIGTERM)

    def search(self, search_id: int) -> dict:
        return self.client.get(f"/searches/{search_id}").json()

    def wait_for(self, search_id: int, statuses=FINAL, timeout: float = 300) -> tuple[dict, list[dict]]:
        seen: list[dict] = []

        def reached():
            seen.append(self.search(search_id))
            return seen[-1] if seen[-1]["status"] in statuses else None

        done = wait_until(reached, timeout, f"search {search_id} to become {' or '.join(sorted(statuses))}", 0.1)
        return done, seen
