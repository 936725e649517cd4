"""A real ``nas serve`` (uvicorn) in a subprocess on a loopback port, for the end-to-end tests.

Its output goes to a log file (a pipe nobody reads would fill and stall the server); a test that
fails shows the log's tail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.test_cli import NAS

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


class Service:
    """``nas serve`` with the given environment; ``client`` talks to its ``/api/v1``."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.log_path = folder / f"serve-{self.port}.log"
        self.env = {**{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RAY_ADDRESS")},
                    "NAS_DATA_DIR": str(folder / "var"), **env}
        self.process: subprocess.Popen | None = None
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}/api/v1", timeout=30)

    def start(self, timeout: float = 120) -> dict:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([NAS, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                            stdout=log, stderr=subprocess.STDOUT, env=self.env)

        def healthy():
            if self.process.poll() is not None:
                pytest.fail(f"nas serve exited with {self.process.returncode}:\n{self.log_tail()}", pytrace=False)
            response = self.client.get("/health")
            return response.json() if response.status_code == 200 else None

        return wait_until(healthy, timeout, "the service to answer /health")

    def stop(self, kill: bool = False) -> None:
        """SIGTERM (uvicorn's graceful shutdown), or SIGKILL: what a crash or the OOM killer does."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, size: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""

    def search(self, search_id: int) -> dict:
        return self.client.get(f"/searches/{search_id}").json()

    def wait_for(self, search_id: int, statuses=FINAL, timeout: float = 300) -> tuple[dict, list[dict]]:
        seen: list[dict] = []

        def reached():
            seen.append(self.search(search_id))
            return seen[-1] if seen[-1]["status"] in statuses else None

        done = wait_until(reached, timeout, f"search {search_id} to become {' or '.join(sorted(statuses))}", 0.1)
        return done, seen
