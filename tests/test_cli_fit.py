"""``nas devices fit``: a device's profile fitted from whole networks timed end to end (a CSV of arch,ms).

Run in process (typer's runner) on a SQLite file per test; the measurements are a shipped profile's own
predictions, scaled, so the fit has a known answer.
"""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

import searchspaces
from nas import cli
from nas.latency import DEFAULT_DEVICE, default_profile, predict_many
from nas.settings import get_settings
from nas.storage import open_store

SCALE = 3.0


def timed_networks(count: int = 20, seed: int = 0) -> list[tuple[str, float]]:
    """``count`` distinct NAS-Bench-201 cells and SCALE times the shipped profile's prediction of each."""
    space = searchspaces.get("nasbench201")
    rng = random.Random(seed)
    archs: list[str] = []
    while len(archs) < count:
        arch = space.encode(space.sample(rng))
        if arch not in archs:
            archs.append(arch)
    return list(zip(archs, (SCALE * ms for ms in predict_many(default_profile("nasbench201"), archs))))


def csv_text(rows) -> str:
    return "arch,ms\n" + "".join(f"{arch},{ms}\n" for arch, ms in rows)


@pytest.fixture
def nas(tmp_path, monkeypatch):
    """``nas(*args)`` runs the CLI on a fresh SQLite database; ``nas.url`` is that database."""
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()

    def run(*args: str):
        return CliRunner().invoke(cli.app, list(args))

    run.url = url
    yield run
    get_settings.cache_clear()


def test_fit_registers_the_device_and_stores_the_profile_with_its_figures(nas, tmp_path):
    rows = timed_networks()
    path = tmp_path / "times.csv"
    path.write_text(csv_text(rows))
    result = nas("devices", "fit", "npu1", "--space", "nasbench201", "--measurements", str(path),
                 "--hardware", "Edge TPU", "--runtime", "tflite", "--threads", "2", "--precision", "int8")
    assert result.exit_code == 0, result.output
    assert "registered device npu1" in result.output
    assert "version 1: fitted from 20 measurements (" in result.output
    for figure in ("Spearman", "MAPE", "within +-10%", "leave-one-out"):
        assert figure in result.output
    again = nas("devices", "fit", "npu1", "--space", "nasbench201", "--measurements", str(path))
    assert again.exit_code == 0, again.output
    assert "version 2" in again.output and "registered" not in again.output

    with open_store(nas.url) as store:
        assert store.devices.get("npu1").hardware == "Edge TPU"
        record = store.profiles.get("npu1", "nasbench201", version=1)
        profile = store.profiles.load(record.id)
    assert profile.fit.n == 20 and profile.validation.method == "leave-one-out"
    assert (profile.device.runtime, profile.device.threads, profile.device.precision) == ("tflite", 2, "int8")
    archs = [arch for arch, _ in rows]
    predicted = predict_many(profile, archs)
    assert all(abs(p / (SCALE * d) - 1) < 0.1
               for p, d in zip(predicted, predict_many(default_profile("nasbench201"), archs)))
    listed = {row["name"]: row for row in json.loads(nas("devices", "--json").output)}
    assert [p["version"] for p in listed["npu1"]["profiles"]] == [1, 2]


def test_bad_rows_exit_2_naming_every_line_and_store_nothing(nas, tmp_path):
    rows = timed_networks(8)
    text = csv_text(rows).splitlines()
    text[3] = f"{rows[2][0]},nan"  # line 4
    text[5] = "|not_an_op~0|+|none~0|none~1|+|none~0|none~1|none~2|,2.5"  # line 6
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(text) + "\n")
    result = nas("devices", "fit", "npu1", "--space", "nasbench201", "--measurements", str(path))
    assert result.exit_code == 2
    assert "--measurements" in result.output and "line 4" in result.output and "nan" in result.output
    assert "Traceback" not in result.output
    text[3] = f"{rows[2][0]},{rows[2][1]}"
    path.write_text("\n".join(text) + "\n")
    result = nas("devices", "fit", "npu1", "--space", "nasbench201", "--measurements", str(path))
    assert result.exit_code == 2
    assert "line 6" in result.output and "not_an_op" in result.output
    with open_store(nas.url) as store:
        assert "npu1" not in [d.name for d in store.devices.list()]


@pytest.mark.parametrize("args, message", [
    (["npu1", "--space", "resnet"], "--space: unknown space 'resnet'"),
    ([DEFAULT_DEVICE, "--space", "nasbench201"], "is a shipped device"),
    (["bad name!", "--space", "nasbench201"], "NAME:"),
    (["npu1", "--space", "nasbench201", "--precision", "fp8"], "--precision"),
])
def test_unknown_space_shipped_device_and_bad_flags_exit_2_naming_them(nas, tmp_path, args, message):
    path = tmp_path / "times.csv"
    path.write_text(csv_text(timed_networks(6)))
    result = nas("devices", "fit", *args, "--measurements", str(path))
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_too_few_networks_and_a_missing_file_exit_2(nas, tmp_path):
    path = tmp_path / "few.csv"
    path.write_text(csv_text(timed_networks(2)))
    result = nas("devices", "fit", "npu1", "--space", "nasbench201", "--measurements", str(path))
    assert result.exit_code == 2 and "at least" in result.output
    result = nas("devices", "fit", "npu1", "--space", "nasbench201", "--measurements", str(tmp_path / "no.csv"))
    assert result.exit_code == 2 and "--measurements: cannot read" in result.output
