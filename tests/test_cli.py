"""The installed ``nas`` console script, run as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from nas.latency import default_device, shipped_files
from nas.testing.serve import NAS, ServeProcess, isolated_env
from tests.budgets import latency_quantile


def run_nas(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([NAS, *args], capture_output=True, text=True, timeout=120, **kwargs)


def invoke_nas(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str):
    """``nas ARGS`` in this process with ``env`` set: no interpreter start-up, for quick refusals.
    The settings are read afresh, as a new process would."""
    from typer.testing import CliRunner

    from nas.cli import app
    from nas.settings import get_settings

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        get_settings.cache_clear()


def test_spaces_json_lists_the_four_spaces_with_sizes(monkeypatch):
    result = invoke_nas(monkeypatch, {}, "spaces", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"shufflenetv2", "mobilenetv3", "metaformer", "nasbench201"}
    assert rows["nasbench201"]["size"] == 15625
    assert rows["shufflenetv2"]["size"] == 40**20
    assert all(row["size"] > 1000 for row in rows.values())


def test_spaces_table_names_every_space(monkeypatch):
    result = invoke_nas(monkeypatch, {}, "spaces")
    assert result.exit_code == 0, result.output
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


def test_serve_answers_health_on_loopback(tmp_path):
    service = ServeProcess(isolated_env(tmp_path / "var"), tmp_path / "serve.log")
    try:
        body = service.start(timeout=60)
        assert body["status"] == "ok"
        assert body["database"] == "sqlite"
        assert (tmp_path / "var" / "nas.db").exists()
    finally:
        service.stop(signal.SIGTERM, grace=30)
    output = service.log_tail(20_000)
    # SIGTERM is the server's own graceful shutdown: not Ray's stack dumps and a CancelledError traceback.
    assert service.process.returncode in (0, -signal.SIGTERM), output[-3000:]  # uvicorn re-raises it once done
    assert "Application shutdown complete" in output, output[-3000:]
    assert "Traceback" not in output and "logging.cc" not in output, output[-3000:]


def test_serve_on_a_port_in_use_fails_at_once_naming_the_flag():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_nas("serve", "--host", "127.0.0.1", "--port", str(taken.getsockname()[1]))
    assert result.returncode == 2, result.stderr
    assert "--port" in result.stderr and "in use" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "Started server process" not in result.stderr


def test_proxies_json_lists_every_proxy(monkeypatch):
    result = invoke_nas(monkeypatch, {}, "proxies", "--json")
    assert result.exit_code == 0, result.output
    names = [row["name"] for row in json.loads(result.stdout)]
    assert {"synflow", "naswot", "zico", "zen", "params", "macs"} <= set(names)


def test_profile_writes_a_profile_that_loads_and_reports_validation(tmp_path):
    out = tmp_path / "here.json"
    result = run_nas(
        "profile", "--space", "nasbench201", "--device-name", "ci-box", "--out", str(out),
        "--repeats", "6", "--rounds", "1", "--calibration", "4", "--validation", "3", "--batch-size", "2",
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: 22 block keys" in result.stdout
    assert "validation on 3 other networks:" in result.stdout
    from nas.latency import load_profile

    profile = load_profile(out)
    assert profile.device.name == "ci-box" and profile.measurement.repeats == 6
    assert profile.device.batch_size == 2


def test_recalibrate_refits_a_recorded_profile_and_names_a_bad_file(tmp_path):
    shipped = Path(__file__).resolve().parents[1] / "latency_tables" / "x86-64-2core__nasbench201.json"
    out = tmp_path / "refit.json"
    result = run_nas("recalibrate", str(shipped), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: calibration a=" in result.stdout
    assert "validation before: 30 other networks:" in result.stdout
    assert "validation after: 30 other networks:" in result.stdout
    from nas.latency import load_profile

    assert load_profile(out).entries == load_profile(shipped).entries
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    result = run_nas("recalibrate", str(bad), "--out", str(out))
    assert result.returncode == 2 and "not JSON" in result.stderr and "Traceback" not in result.stderr
    result = run_nas("recalibrate", str(shipped), "--out", "/no/such/dir/p.json")
    assert result.returncode == 2 and "--out: folder '/no/such/dir' does not exist" in result.stderr


def test_merge_profiles_writes_the_median_session_and_names_a_mismatch(tmp_path, monkeypatch):
    sessions = Path(__file__).resolve().parents[1] / "bench" / "latency_sessions"
    shipped = sorted(sessions.glob("*/x86-64-2core__nasbench201.json"))[0]  # one session of a shipped table
    document = json.loads(shipped.read_text())
    document["measurement"]["measured_at"] = "2026-11-23T09:00:00Z"
    for part in ("calibration", "validation"):
        for point in document[part]["networks"]:
            point["measured_ms"] *= 1.10
    later = tmp_path / "later.json"
    later.write_text(json.dumps(document))
    out = tmp_path / "merged.json"
    result = run_nas("merge-profiles", str(shipped), str(later), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: 2 sessions, calibration a=" in result.stdout
    assert f"2026-11-23T09:00:00+00:00 {later}: its networks took 1.048x the merged times" in result.stdout
    assert "validation on 30 other networks:" in result.stdout
    from nas.latency import load_profile

    assert len(load_profile(out).measurement.sessions) == 2
    out.unlink()
    merged = Path(__file__).resolve().parents[1] / "latency_tables" / "x86-64-2core__nasbench201.json"
    document["device"]["batch_size"] = 4
    later.write_text(json.dumps(document))
    for args, message in [
        ([str(shipped)], "need at least 2 sessions to merge, got 1"),
        ([str(shipped), str(later)], f"device.batch_size: 4 in {later}, 1 in {shipped}"),
        ([str(shipped), str(tmp_path / "none.json")], "cannot read the file"),
        ([str(shipped), str(merged)], f"{merged}: already merged from "),
    ]:
        refused = invoke_nas(monkeypatch, {}, "merge-profiles", *args, "--out", str(out))  # in process: quick
        assert refused.exit_code == 2 and message in refused.stderr, refused.output
        assert not out.exists()
    refused = invoke_nas(monkeypatch, {}, "merge-profiles", str(shipped), str(later), "--out", "/no/such/dir/m.json")
    assert refused.exit_code == 2 and "--out: folder '/no/such/dir' does not exist" in refused.stderr

def test_speed_check_scales_a_profile_and_warns_when_the_device_looks_foreign(tmp_path, monkeypatch):
    shipped = Path(__file__).resolve().parents[1] / "latency_tables" / "x86-64-2core__nasbench201.json"
    out = tmp_path / "checked.json"
    result = run_nas("speed-check", "--space", "nasbench201", "--networks", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: 2 calibration networks took " in result.stdout
    from nas.latency import default_profile, load_profile

    checked = load_profile(out)  # --space: the shipped table of this CPU
    assert checked.speed_check.networks == 2 and checked.entries == default_profile("nasbench201").entries
    assert f"every prediction is scaled by {checked.speed_check.factor:.3f}" in result.stdout
    document = json.loads(shipped.read_text())
    for point in document["calibration"]["networks"]:
        point["measured_ms"] /= 10  # as if profiled on a device ten times faster than any here
    fast = tmp_path / "fast.json"
    fast.write_text(json.dumps(document))
    result = run_nas("speed-check", str(fast), "--networks", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "this looks like another device, or another setting" in result.stderr
    assert load_profile(out).speed_check.factor > 1.35
    out.unlink()
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    for args, message in [
        ([], "PROFILE_FILE and --space: give one or the other"),
        ([str(shipped), "--space", "nasbench201"], "PROFILE_FILE and --space: give one or the other"),
        (["--space", "resnet"], "--space: unknown space 'resnet'"),
        (["--space", "nasbench201", "--networks", "0"], "--networks: must be at least 1, got 0"),
        ([str(bad)], "not JSON"),
        ([str(tmp_path / "none.json")], "cannot read the file"),
    ]:
        refused = invoke_nas(monkeypatch, {}, "speed-check", *args, "--out", str(out))  # in process: quick
        assert refused.exit_code == 2 and message in refused.stderr, refused.output
        assert not out.exists()
    refused = invoke_nas(monkeypatch, {}, "speed-check", str(shipped), "--out", "/no/such/dir/c.json")
    assert refused.exit_code == 2 and "--out: folder '/no/such/dir' does not exist" in refused.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--space", "resnet"], "--space: unknown space 'resnet'"),
        (["--runtime", "tflite"], "--runtime: unknown runtime 'tflite'; choose from torch, onnxruntime"),
        (["--statistic", "p90"], "--statistic: must be one of p50, mean, min, got 'p90'"),
        (["--device-name", "my phone"], "--device-name: 'my phone' must be 1-64 letters"),
        (["--resolution", "64"], "resolution 64 is not in space 'nasbench201'"),
        (["--out", "/no/such/dir/p.json"], "--out: folder '/no/such/dir' does not exist"),
        (["--accelerator", "tpu"], "--accelerator: unknown accelerator 'tpu'"),
        (["--batch-size", "0"], "--batch-size"),
    ],
)
def test_profile_refuses_bad_flags_by_name(tmp_path, monkeypatch, args, message):
    base = {"--space": "nasbench201", "--device-name": "box", "--out": str(tmp_path / "p.json")}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    flat = [part for pair in base.items() for part in pair]
    result = invoke_nas(monkeypatch, {}, "profile", *flat, "--repeats", "2", "--calibration", "0", "--validation", "0")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert not (tmp_path / "p.json").exists()


# -- nas search and nas devices ----------------------------------------------------------------


def env_with(database_url: str, tmp_path: Path) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "NAS_DATA_DIR": str(tmp_path / "var")}
    return env


@pytest.mark.backends("sqlite")  # the CLI's default; the service's user session runs on both
def test_search_stores_the_run_and_writes_the_front(tmp_path, database_url):
    from nas.storage import open_store

    env = env_with(database_url, tmp_path)
    out = tmp_path / "front.json"
    budget_ms = latency_quantile("nasbench201", 0.2)  # about a fifth of the candidates fit
    result = run_nas("search", "--space", "nasbench201", "--budget", "24", "--latency-max-ms", str(budget_ms),
                     "--strategy", "nsga2", "--seed", "3", "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["evaluated"] == 24
    assert document["request"]["latency_max_ms"] == budget_ms and document["request"]["strategy"] == "nsga2"
    assert document["request"]["device"] == default_device()  # the shipped table of this CPU
    front = document["front"]
    assert front and all(c["latency_ms"] <= budget_ms for c in front)
    assert {"arch", "arch_hash", "scores", "score", "latency_ms", "params", "macs"} <= set(front[0])
    assert front[0]["arch"] in result.stdout  # the table names the front's architectures

    with open_store(database_url) as store:
        search = store.searches.get(document["search_id"])
        assert (search.status, search.evaluated, search.strategy) == ("succeeded", 24, "nsga2")
        assert search.history and search.history[-1][0] == 24
        stored_front = store.candidates.list(search.id, pareto_only=True, limit=1000)
        assert {c.arch_hash for c in stored_front} == {c["arch_hash"] for c in front}
        assert store.candidates.count(search.id) == 24

    # The same search again reads every score and latency from the caches: same front.
    again = tmp_path / "again.json"
    result = run_nas("search", "--space", "nasbench201", "--budget", "24", "--latency-max-ms", str(budget_ms),
                     "--strategy", "nsga2", "--seed", "3", "--out", str(again), env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(again.read_text())["front"] == front


@pytest.mark.parametrize("args, message", [
    (["--space", "resnet"], "--space"),
    (["--space", "nasbench201", "--strategy", "annealing"], "--strategy"),
    (["--space", "nasbench201", "--budget", "0"], "--budget"),
    (["--space", "nasbench201", "--latency-max-ms", "-1"], "--latency-max-ms"),
    (["--space", "nasbench201", "--proxy", "accuracy"], "--proxy"),
    (["--space", "nasbench201", "--ensemble", "synflow"], "--ensemble"),
    (["--space", "nasbench201", "--proxy", "synflow", "--ensemble", "synflow,naswot"], "--ensemble: give proxy or ensemble"),
    (["--space", "nasbench201", "--objective", "accuracy"], "--objective"),
    (["--space", "nasbench201", "--data", "imagenet"], "--data"),
    (["--space", "nasbench201", "--device", "pixel9"], "--device"),
    (["--space", "nasbench201", "--seed", "-1"], "--seed"),
    (["--space", "nasbench201", "--workers", "0"], "--workers: must be at least 1"),
    (["--space", "nasbench201", "--out", "/no/such/dir/front.json"], "--out: folder '/no/such/dir' does not exist"),
])
def test_search_refuses_bad_flags_by_name_and_stores_nothing(tmp_path, monkeypatch, args, message):
    from nas.storage import open_store

    url = f"sqlite:///{tmp_path / 'nas.db'}"
    result = invoke_nas(monkeypatch, {"DATABASE_URL": url, "NAS_DATA_DIR": str(tmp_path / "var")}, "search", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    with open_store(url) as store:
        assert store.searches.list() == []


def test_devices_lists_shipped_and_registered_profiles(tmp_path, monkeypatch):
    from tests.latency.conftest import synthetic_document

    url = f"sqlite:///{tmp_path / 'nas.db'}"
    env = env_with(url, tmp_path)
    profile = tmp_path / "pi.json"
    document = synthetic_document()
    profile.write_text(json.dumps(document))
    result = run_nas("devices", "register", "pi4", "--profile", str(profile), "--hardware", "Raspberry Pi 4",
                     env=env)
    assert result.returncode == 0, result.stderr
    assert "version 1" in result.stdout
    same = {key: env[key] for key in ("DATABASE_URL", "NAS_DATA_DIR")}  # the rest in process: quicker
    result = invoke_nas(monkeypatch, same, "devices", "register", "pi4", "--profile", str(profile))
    assert "version 2" in result.stdout, result.output

    listing = json.loads(invoke_nas(monkeypatch, same, "devices", "--json").stdout)
    by_name = {row["name"]: row for row in listing}
    assert by_name["x86-64-2core"]["shipped"] is True
    assert {p["space"] for p in by_name["x86-64-2core"]["profiles"]} == {
        "mobilenetv3", "shufflenetv2", "metaformer", "nasbench201"}
    assert [p["version"] for p in by_name["pi4"]["profiles"]] == [1, 2]
    table = invoke_nas(monkeypatch, same, "devices").stdout
    assert "pi4" in table and "x86-64-2core (shipped)" in table


def test_devices_register_refuses_a_bad_profile_and_keeps_the_registry(tmp_path):
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    env = env_with(url, tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "entries": {"x": {"p50": NaN}}}')
    result = run_nas("devices", "register", "pi4", "--profile", str(bad), env=env)
    assert result.returncode == 2
    assert "--profile" in result.stderr and "Traceback" not in result.stderr
    misnamed = run_nas("devices", "register", "bad name!", env=env)
    assert misnamed.returncode == 2 and misnamed.stderr.startswith("Error: NAME: "), misnamed.stderr
    names = [row["name"] for row in json.loads(run_nas("devices", "--json", env=env).stdout)]
    assert names == sorted({device for device, _ in shipped_files()})


def test_datasets_register_list_and_search_on_one(tmp_path, monkeypatch):
    import numpy as np

    from tests.datasets.test_calibration import images, npz

    env = env_with(f"sqlite:///{tmp_path / 'nas.db'}", tmp_path)
    good, bad = tmp_path / "parts.npz", tmp_path / "bad.npz"
    good.write_bytes(npz(images=images(n=20, side=32), labels=np.arange(20) % 10))
    bad.write_bytes(npz(images=images(), labels=np.full(12, -1)))
    stored = run_nas("datasets", "register", "parts", "--file", str(good), "--description", "factory parts", env=env)
    assert stored.returncode == 0, stored.stderr
    assert "20 images of 32x32, 10 classes" in stored.stdout
    same = {key: env[key] for key in ("DATABASE_URL", "NAS_DATA_DIR")}  # the rest in process: quicker
    refused = invoke_nas(monkeypatch, same, "datasets", "register", "broken", "--file", str(bad))
    assert refused.exit_code == 2 and "labels: -1 is negative" in refused.stderr, refused.output
    again = invoke_nas(monkeypatch, same, "datasets", "register", "parts", "--file", str(good))
    assert again.exit_code == 2 and "NAME: a dataset named 'parts' already exists" in again.stderr
    listed = json.loads(invoke_nas(monkeypatch, same, "datasets", "--json").stdout)
    assert [(d["name"], d["num_images"]) for d in listed] == [("parts", 20)]

    searched = run_nas("search", "--space", "nasbench201", "--budget", "8", "--proxy", "naswot", "--data", "parts",
                       "--proxy-batch", "16", "--workers", "1", env=env)
    assert searched.returncode == 0, searched.stderr
    too_many = invoke_nas(monkeypatch, same, "search", "--space", "nasbench201", "--budget", "8", "--proxy", "naswot",
                          "--data", "parts", "--proxy-batch", "32")
    assert too_many.exit_code == 2 and "--proxy-batch" in too_many.stderr and "holds 20 images" in too_many.stderr


def test_keys_create_list_and_revoke(tmp_path, monkeypatch):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'nas.db'}", "NAS_DATA_DIR": str(tmp_path / "var")}
    assert "no keys" in invoke_nas(monkeypatch, env, "keys", "list").output
    made = invoke_nas(monkeypatch, env, "keys", "create", "ci-bot", "--role", "viewer")
    assert made.exit_code == 0, made.output
    key = made.stdout.splitlines()[-1]
    assert key.startswith("nas_") and len(key) >= 32
    for listing in (invoke_nas(monkeypatch, env, "keys", "list"), invoke_nas(monkeypatch, env, "keys")):
        assert listing.exit_code == 0 and "ci-bot" in listing.output and "viewer" in listing.output
        assert key not in listing.output
    again = invoke_nas(monkeypatch, env, "keys", "create", "ci-bot")
    assert again.exit_code == 2 and "NAME" in again.output
    assert invoke_nas(monkeypatch, env, "keys", "create", "a b").exit_code == 2
    revoked = invoke_nas(monkeypatch, env, "keys", "revoke", "ci-bot")
    assert revoked.exit_code == 0 and "revoked key 'ci-bot'" in revoked.output
    [row] = json.loads(invoke_nas(monkeypatch, env, "keys", "list", "--json").stdout)
    assert row["name"] == "ci-bot" and row["revoked_at"] != "-"
    unknown = invoke_nas(monkeypatch, env, "keys", "revoke", "nobody")
    assert unknown.exit_code == 2 and "nobody" in unknown.output
