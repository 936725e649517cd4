"""A CPU that no shipped table names gets its own device, fitted from networks timed here: never a
foreign table. The clock is replaced (no timing in tests): a machine 1.7 times slower than the
reference table."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import searchspaces
from nas.latency import hardware, local, predict_many, shipped
from nas.latency.local import calibrate_here
from nas.latency.shipped import (
    DEFAULT_DEVICE,
    default_device,
    local_device_name,
    shipped_device_here,
)
from nas.latency.speedcheck import speed_check_points
from nas.settings import get_settings
from nas.storage.here import ensure_local_device, local_profile

FAKE_CPU = "x86_64, 2 cores, AMD EPYC 9999 (family 99 model 7, 3000 MHz, AVX512)"
LOCAL = "local-amd-epyc-9999-f99m7"


def slower_machine(reference, archs, progress):
    progress(len(archs))
    return 1.7 * predict_many(reference, archs)


@pytest.fixture
def fresh_settings(tmp_path, monkeypatch):
    """Settings read anew from an environment with a database of this test's own."""
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def unknown_cpu(monkeypatch):
    monkeypatch.delenv("NAS_DEFAULT_DEVICE", raising=False)
    monkeypatch.setattr(hardware, "describe_hardware", lambda accelerator=None: FAKE_CPU)
    monkeypatch.setattr(local, "_time_here", slower_machine)
    shipped.host_cpu.cache_clear()
    get_settings.cache_clear()
    yield
    shipped.host_cpu.cache_clear()
    get_settings.cache_clear()


def test_an_unknown_cpu_gets_its_own_device_not_a_foreign_table(unknown_cpu, monkeypatch):
    assert shipped_device_here() is None
    assert default_device() == local_device_name() == LOCAL
    assert LOCAL not in {device for device, _ in shipped.shipped_files()}
    monkeypatch.setenv("NAS_DEFAULT_DEVICE", DEFAULT_DEVICE)  # unless the user names one
    get_settings.cache_clear()
    assert default_device() == DEFAULT_DEVICE


@pytest.mark.parametrize("hardware, name", [
    ("x86_64, 2 cores, Intel(R) Xeon(R) Gold 6226 CPU @ 2.70GHz (family 6 model 85, 2700 MHz, AVX512)",
     "local-intel-xeon-gold-6226-cpu-2-70ghz-f6m85"),
    ("aarch64, 4 cores, Cortex-A72", "local-aarch64-4-cores-cortex-a72"),
])
def test_the_local_device_is_named_after_the_cpu(hardware, name):
    assert local_device_name(hardware) == name


def test_calibrating_here_fits_this_machines_profile(unknown_cpu):
    profile = calibrate_here("nasbench201", networks=8)
    assert profile.device.name == LOCAL and profile.device.hardware == FAKE_CPU
    assert profile.fit.n == 8 and profile.fit.reference == f"{DEFAULT_DEVICE}/nasbench201"
    assert "timed end to end on this machine" in profile.measurement.tool
    # timed as the reference table's networks were, so `nas speed-check` times them again alike
    assert (profile.measurement.repeats, profile.measurement.statistic) == (60, "min")
    assert len(speed_check_points(profile)) == 8
    space = searchspaces.get("nasbench201")
    rng = random.Random(4)
    others = [space.sample(rng) for _ in range(50)]
    reference = shipped.read_shipped(DEFAULT_DEVICE, "nasbench201")
    ratio = predict_many(profile, others) / predict_many(reference, others)
    assert np.median(ratio) == pytest.approx(1.7, rel=0.05)
    assert profile.origin().startswith("fitted from 8 networks timed end to end")


def test_the_store_keeps_the_fitted_profile_and_fits_once(unknown_cpu, store):
    assert ensure_local_device(store) == LOCAL
    assert store.devices.get(LOCAL).hardware == FAKE_CPU and not store.devices.get(LOCAL).shipped
    first = local_profile(store, "nasbench201")
    again = local_profile(store, "nasbench201", timer=lambda *args: pytest.fail("timed twice"))
    assert again.id == first.id and first.version == 1


def test_a_search_for_this_machine_waits_for_its_calibration(unknown_cpu, fresh_settings, monkeypatch):
    from api.main import create_app
    from workers.dispatcher import Dispatcher

    with TestClient(create_app(run_searches=False)) as client:
        health = client.get("/api/v1/health").json()
        assert health["default_device"] == LOCAL and "none fitted yet" in health["default_latency"]
        submitted = client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 4})
        assert submitted.status_code == 202, submitted.text
        body = submitted.json()
        assert body["device"] == LOCAL and body["profile_version"] is None
        assert "calibration" in body["waiting"]
        store = client.app.state.store
        released, timing = threading.Event(), threading.Event()

        def held_clock(reference, archs, progress):  # the timing goes on until the test lets it end
            assert timing.wait(60)
            return slower_machine(reference, archs, progress)

        monkeypatch.setattr(local, "_time_here", held_clock)
        dispatcher = Dispatcher(store, 1)
        dispatcher.calibrator.on_ready = released.set
        client.app.state.dispatcher = dispatcher  # what the devices page and health read
        record = store.searches.get(body["id"])
        assert dispatcher._with_profile(record) is None  # the calibration starts; the search waits
        assert client.get(f"/api/v1/devices/{LOCAL}").json()["calibrating"] == ["nasbench201"]
        assert client.get("/api/v1/health").json()["calibrating"] == ["nasbench201"]
        timing.set()
        assert released.wait(60) and dispatcher.calibrator.calibrating == []
        client.app.state.dispatcher = None
        ready = dispatcher._with_profile(store.searches.get(body["id"]))
        assert ready is not None and ready.profile_id is not None and ready.request["profile_version"] == 1
        assert client.get(f"/api/v1/searches/{body['id']}").json()["waiting"] is None
        assert "fitted so far for nasbench201" in client.get("/api/v1/health").json()["default_latency"]


def test_the_cli_fits_this_machine_and_names_it_in_its_header(unknown_cpu, fresh_settings):
    from nas.cli import app

    result = CliRunner().invoke(app, ["search", "--space", "nasbench201", "--budget", "4", "--batch-size", "4",
                                      "--workers", "1", "--data", "synthetic", "--strategy", "random"])
    assert result.exit_code == 0, result.output
    assert "has no shipped latency table" in result.output
    assert f"latency: {LOCAL} profile v1, fitted from 20 networks timed end to end" in result.output
