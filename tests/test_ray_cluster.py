"""The service joins an existing Ray cluster (RAY_ADDRESS): a head started with ``ray start --head``
on loopback, a real ``nas serve`` pointed at it, a search run to completion over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_cli import NAS, free_port

RAY = str(Path(sys.executable).with_name("ray"))


def http(method: str, url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}", pytrace=False)


def test_search_runs_on_a_ray_head_started_apart(tmp_path):
    gcs_port, api_port = free_port(), free_port()
    # A throwaway cluster on loopback: no token authentication (Ray 2.5x turns it on for clusters),
    # and a short temp dir, since Ray's Unix sockets live there and their paths are limited to 107 bytes.
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAY_")}, "RAY_AUTH_MODE": "disabled"}
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    head = subprocess.Popen(
        [RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={gcs_port}", "--num-cpus=2",
         "--include-dashboard=false", f"--temp-dir={temp_dir}", "--block"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    server = None
    try:
        address = f"127.0.0.1:{gcs_port}"
        service_env = {**env, "RAY_ADDRESS": address, "NAS_DATA_DIR": str(tmp_path / "var")}
        service_env.pop("DATABASE_URL", None)
        # The head is up when its GCS answers `ray status`.
        wait_until(lambda: subprocess.run([RAY, "status", f"--address={address}"], capture_output=True,
                                          env=env).returncode == 0, 90, "the Ray head")
        server = subprocess.Popen([NAS, "serve", "--host", "127.0.0.1", "--port", str(api_port)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=service_env)
        base = f"http://127.0.0.1:{api_port}/api/v1"
        health = wait_until(lambda: http("GET", f"{base}/health"), 90, "the service")
        assert health["ray"]["address"] == address and health["ray"]["cpus"] == 2
        search = http("POST", f"{base}/searches", {"space": "nasbench201", "budget": 16})
        done = wait_until(lambda: (lambda s: s if s["status"] in ("succeeded", "failed") else None)(
            http("GET", f"{base}/searches/{search['id']}")), 120, "the search")
        assert done["status"] == "succeeded", done["error"]
        assert done["evaluated"] == 16 and done["front_size"] > 0
    finally:
        for process in (server, head):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(temp_dir, ignore_errors=True)
