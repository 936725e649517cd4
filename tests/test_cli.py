"""The installed ``nas`` console script, run as a user runs it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

NAS = str(Path(sys.executable).with_name("nas"))


def run_nas(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([NAS, *args], capture_output=True, text=True, timeout=120, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_spaces_json_lists_the_four_spaces_with_sizes():
    result = run_nas("spaces", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"shufflenetv2", "mobilenetv3", "metaformer", "nasbench201"}
    assert rows["nasbench201"]["size"] == 15625
    assert rows["shufflenetv2"]["size"] == 40**20
    assert all(row["size"] > 1000 for row in rows.values())


def test_spaces_table_names_every_space():
    result = run_nas("spaces")
    assert result.returncode == 0, result.stderr
    for name in ("shufflenetv2", "mobilenetv3", "metaformer", "nasbench201"):
        assert name in result.stdout


def test_bad_flag_is_a_clear_error_not_a_traceback():
    result = run_nas("serve", "--port", "70000")
    assert result.returncode == 2
    assert "--port" in result.stderr and "Traceback" not in result.stderr


def test_bad_setting_names_the_variable():
    result = run_nas("serve", env={**os.environ, "NAS_PORT": "not-a-port"})
    assert result.returncode != 0
    assert "port" in (result.stderr + result.stdout).lower()
    assert "Traceback" not in result.stderr


def test_serve_answers_health_on_loopback():
    port = free_port()
    process = subprocess.Popen(
        [NAS, "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as r:
                    body = json.load(r)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"nas serve did not answer: {process.stdout.read()}")
                time.sleep(0.3)
        assert body["status"] == "ok"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_proxies_json_lists_every_proxy():
    result = run_nas("proxies", "--json")
    assert result.returncode == 0, result.stderr
    names = [row["name"] for row in json.loads(result.stdout)]
    assert {"synflow", "naswot", "zico", "zen", "params", "flops"} <= set(names)


def test_profile_writes_a_profile_that_loads_and_reports_validation(tmp_path):
    out = tmp_path / "here.json"
    result = run_nas(
        "profile", "--space", "nasbench201", "--device-name", "ci-box", "--out", str(out),
        "--repeats", "6", "--rounds", "1", "--calibration", "4", "--validation", "3",
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: 22 block keys" in result.stdout
    assert "validation on 3 other networks:" in result.stdout
    from nas.latency import load_profile

    profile = load_profile(out)
    assert profile.device.name == "ci-box" and profile.measurement.repeats == 6


@pytest.mark.parametrize(
    "args, message",
    [
        (["--space", "resnet"], "--space: unknown space 'resnet'"),
        (["--runtime", "tflite"], "--runtime: unknown runtime 'tflite'; choose from torch, onnxruntime"),
        (["--statistic", "p90"], "--statistic: must be one of p50, mean, min, got 'p90'"),
        (["--device-name", "my phone"], "--device-name: 'my phone' must be 1-64 letters"),
        (["--resolution", "64"], "resolution 64 is not in space 'nasbench201'"),
        (["--out", "/no/such/dir/p.json"], "--out: folder '/no/such/dir' does not exist"),
    ],
)
def test_profile_refuses_bad_flags_by_name(tmp_path, args, message):
    base = {"--space": "nasbench201", "--device-name": "box", "--out": str(tmp_path / "p.json")}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    flat = [part for pair in base.items() for part in pair]
    result = run_nas("profile", *flat, "--repeats", "2", "--calibration", "0", "--validation", "0")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "p.json").exists()
