"""The running service: ``services(env)`` starts a real ``nas serve``; every one started is stopped
when the test ends, and its log is printed (pytest shows it when the test fails). ``module_services``
is the same for a whole test module (one service shared by its tests).

The browser: ``browser`` is Debian's Chromium for the session (tests/e2e/browser.py); ``page`` is a
fresh page per test whose console errors and uncaught exceptions fail the test at teardown;
``console_errors`` lets a test admit the errors it provokes on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.browser import ConsoleErrors, launch
from tests.e2e.service import Service


def _service_starter(folder: Path) -> tuple[Callable[..., Service], Callable[[], None]]:
    started: list[Service] = []

    def start(env: dict[str, str] | None = None, folder: Path = folder) -> Service:
        service = Service(folder, env or {})
        started.append(service)
        service.start()
        return service

    def stop_all() -> None:
        for service in started:
            service.stop()
            service.client.close()
            print(f"--- log of nas serve on port {service.port} ---\n{service.log_tail()}")

    return start, stop_all


@pytest.fixture
def services(tmp_path):
    start, stop_all = _service_starter(tmp_path)
    yield start
    stop_all()


@pytest.fixture(scope="module")
def module_services(tmp_path_factory):
    start, stop_all = _service_starter(tmp_path_factory.mktemp("service"))
    yield start
    stop_all()


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # two busy cores: Plotly may take a while to draw
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def console_errors() -> ConsoleErrors:
    return ConsoleErrors()


@pytest.fixture
def page(browser, console_errors) -> Iterator:
    """A page in a fresh browser context; any page the context opens (a new tab) is watched too."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    context.on("page", console_errors.watch)
    opened = context.new_page()
    yield opened
    context.close()
    if console_errors.errors:
        pytest.fail("errors in the browser console:\n" + "\n".join(console_errors.errors), pytrace=False)
