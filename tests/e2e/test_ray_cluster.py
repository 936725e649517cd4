"""The service joins an existing Ray cluster (RAY_ADDRESS): a head started with ``ray start --head``
on loopback, a real ``nas serve`` pointed at it, a search run to completion over HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from nas.testing.serve import free_port
from tests.e2e.service import wait_until

RAY = str(Path(sys.executable).with_name("ray"))


def test_search_runs_on_a_ray_head_started_apart(services, tmp_path):
    gcs_port = free_port()
    # A throwaway cluster on loopback: no token authentication (Ray 2.5x turns it on for clusters),
    # and a short temp dir, since Ray's Unix sockets live there and their paths are limited to 107 bytes.
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAY_")}, "RAY_AUTH_MODE": "disabled"}
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    with open(tmp_path / "ray-head.log", "wb") as log:
        head = subprocess.Popen(
            [RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={gcs_port}", "--num-cpus=2",
             "--include-dashboard=false", f"--temp-dir={temp_dir}", "--block"],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    try:
        address = f"127.0.0.1:{gcs_port}"
        # The head is up when its GCS answers `ray status`.
        wait_until(lambda: subprocess.run([RAY, "status", f"--address={address}"], capture_output=True,
                                          env=env).returncode == 0, 90, "the Ray head")
        service = services({"RAY_ADDRESS": address, "RAY_AUTH_MODE": "disabled"})
        health = service.client.get("/health").json()
        assert health["ray"]["address"] == address and health["ray"]["cpus"] == 2
        search = service.client.post("/searches", json={"space": "nasbench201", "budget": 16}).json()
        done, _ = service.wait_for(search["id"], timeout=120)
        assert done["status"] == "succeeded", done["error"]
        assert done["evaluated"] == 16 and done["front_size"] > 0
        service.stop()
    finally:
        head.terminate()
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            head.kill()
        shutil.rmtree(temp_dir, ignore_errors=True)
