"""``nas serve`` in a subprocess on a free loopback port, ready once it answers ``/api/v1/health``.

The one way the end-to-end tests (``tests/e2e/service.py``) and the benches (``bench/service.py``,
``bench/dashboard.py``) start the real service. Its output goes to a log file (a pipe nobody reads
would fill and stall the server). With ``new_session`` it leads a session of its own, so ``stop``
also reaches the processes Ray starts (they lead process groups of their own, but stay in the session).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

NAS = str(Path(sys.executable).with_name("nas"))  # the entry point installed beside this Python


class ServeError(RuntimeError):
    """The service exited, or did not answer ``/health`` in time; the message ends with its log's tail."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def isolated_env(data_dir: Path, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a service of its own: no ``DATABASE_URL`` and no ``RAY_*``
    variable (its own SQLite database and local Ray, unless ``overrides`` name them), its data in
    ``data_dir``."""
    inherited = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("RAY_")}
    return {**inherited, "NAS_DATA_DIR": str(data_dir), **(overrides or {})}


def session_processes(session: int) -> dict[int, tuple[str, float]]:
    """Live processes of ``session``: pid -> (command, CPU seconds so far), from /proc."""
    found, tick = {}, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()  # fields from the 3rd, state, on
            title = (stat.parent / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        if fields[0] != "Z" and int(fields[3]) == session:
            found[int(stat.parent.name)] = (title, (int(fields[11]) + int(fields[12])) / tick)  # utime + stime
    return found


class ServeProcess:
    """``nas serve --host HOST --port PORT`` with ``env``, its output appended to ``log_path``.

    ``start`` may be called again after ``stop``: the same port, the same log.
    """

    def __init__(self, env: Mapping[str, str], log_path: Path, port: int | None = None,
                 host: str = "127.0.0.1", new_session: bool = False) -> None:
        self.env, self.log_path, self.host = dict(env), Path(log_path), host
        self.new_session = new_session
        self.own_port = port is None  # a free port this object chose: another may be chosen once
        self._use_port(port or free_port(host))
        self.process: subprocess.Popen | None = None
        self.left_behind = False  # whether stop() had to kill processes left in the session

    def _use_port(self, port: int) -> None:
        self.port = port
        self.url = f"http://{self.host}:{port}"
        self.api = f"{self.url}/api/v1"
        self.command = [NAS, "serve", "--host", self.host, "--port", str(port)]

    def start(self, timeout: float = 120) -> dict:
        """Start the service and wait for ``/health``; its answer. ``ServeError`` if it exits or times out.
        If the free port it chose was taken meanwhile (``nas serve`` exits 2 saying it cannot bind), it
        chooses another, once, on its first start."""
        first = self.process is None
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                            start_new_session=self.new_session)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                if first and self.own_port and "cannot bind" in self.log_tail(600):
                    self.own_port = False
                    self._use_port(free_port(self.host))
                    self.process = None
                    return self.start(timeout)
                raise ServeError(f"nas serve exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.api}/health", timeout=2) as answer:
                    return json.load(answer)
            except (OSError, http.client.HTTPException, ValueError):  # not up yet (HTTPError is an OSError)
                pass
            if time.monotonic() > deadline:
                raise ServeError(f"nas serve did not answer /health within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, grace: float = 60) -> float | None:
        """Send ``sig`` (SIGTERM or SIGINT: uvicorn's graceful shutdown; SIGKILL: what a crash or the
        OOM killer does) and wait ``grace`` seconds, then SIGKILL (in a session of its own: SIGTERM to
        the session first). In a session of its own, whatever is left in it a few seconds later is
        killed (``left_behind`` says whether anything was). The seconds the graceful stop took; None
        if it was forced or the service had already exited."""
        if self.process is None:
            return None
        graceful = None
        if self.process.poll() is None:
            started = time.perf_counter()
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=grace)
                graceful = time.perf_counter() - started
            except subprocess.TimeoutExpired:
                if self.new_session:
                    self._signal_session(signal.SIGTERM)
                    try:
                        self.process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        pass
        if self.new_session:
            deadline = time.monotonic() + 5  # Ray's workers exit when they see their raylet go
            while self._signal_session(0) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.left_behind = self._signal_session(signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        return graceful

    def _signal_session(self, sig: int) -> bool:
        """Signal every live process of the service's session; whether there were any."""
        members = session_processes(self.process.pid)
        for pid in members:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return bool(members)

    def log_tail(self, size: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""
