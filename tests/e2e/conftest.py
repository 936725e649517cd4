"""The running service: ``services(env)`` starts a real ``nas serve``; every one started is stopped
when the test ends, and its log is printed (pytest shows it when the test fails)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.service import Service


@pytest.fixture
def services(tmp_path):
    started: list[Service] = []

    def start(env: dict[str, str] | None = None, folder: Path = tmp_path) -> Service:
        service = Service(folder, env or {})
        started.append(service)
        service.start()
        return service

    yield start
    for service in started:
        service.stop()
        service.client.close()
        print(f"--- log of nas serve on port {service.port} ---\n{service.log_tail()}")
