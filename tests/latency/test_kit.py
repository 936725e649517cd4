"""The measurement kit: networks chosen for a well-posed fit, written as ONNX with a standalone timer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import searchspaces
from nas import cli
from nas.latency import default_profile, predict_many
from nas.latency.kit import choose_networks, draw_pool, make_kit
from nas.latency.measurements import check_measurements, read_csv

SPACE = "nasbench201"
N = 5


@pytest.fixture(scope="module")
def kit_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kit")
    calls = []
    made = make_kit(SPACE, folder, n=N, seed=0, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, N) for i in range(1, N + 1)]
    assert made == json.loads((folder / "kit.json").read_text())
    return folder


def test_the_kit_holds_n_distinct_networks_as_onnx_with_kit_json_and_measure_py(kit_dir):
    import onnx

    kit = json.loads((kit_dir / "kit.json").read_text())
    space = searchspaces.get(SPACE)
    assert kit["kit_version"] == 1 and kit["space"] == SPACE and kit["resolutions"] == [32]
    assert kit["num_classes"] == 10 and kit["seed"] == 0 and kit["reference"].endswith(f"/{SPACE}")
    archs = [network["arch"] for network in kit["networks"]]
    assert len(set(archs)) == N
    assert all(space.encode(space.decode(arch)) == arch for arch in archs)
    assert sorted(p.name for p in kit_dir.glob("*.onnx")) == [f"net_{i:02d}.onnx" for i in range(N)]
    for network in kit["networks"]:
        assert network["input_shape"] == [1, 3, 32, 32] and network["predicted_ms_reference"] > 0
        model = onnx.load(str(kit_dir / network["file"]))
        assert {p.key: p.value for p in model.metadata_props}["arch"] == network["arch"]
    assert (kit_dir / "measure.py").read_text().startswith('"""Time the networks of a measurement kit')


def test_the_choice_spans_the_latency_range_and_every_edge_operation():
    space, reference = searchspaces.get(SPACE), default_profile(SPACE)
    chosen = choose_networks(space, reference, N, seed=3)
    pool = draw_pool(space, 400, resolution=None, seed=3)
    predicted = predict_many(reference, pool, space)
    assert pool[int(np.argmin(predicted))] in chosen and pool[int(np.argmax(predicted))] in chosen
    ops = {op for arch in chosen for op in space.decode(arch)}
    assert ops == {"none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"}
    # better spread than a random draw of as many: the chosen times cover more of the pool's quantile bins
    edges = np.quantile(predicted, np.linspace(0, 1, N + 1)[1:-1])
    bins = np.searchsorted(edges, predict_many(reference, chosen, space), side="right")
    assert len(set(bins.tolist())) == N


def test_a_network_whose_output_cannot_depend_on_its_input_is_never_in_a_kit():
    space = searchspaces.get(SPACE)
    zero_fed = "|none~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|nor_conv_3x3~1|none~2|"
    assert space.constant_output(space.decode(zero_fed))
    assert not space.constant_output(space.decode("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"))
    pool = draw_pool(space, 2000, resolution=None, seed=4)
    assert len(pool) == 2000 and not any(space.constant_output(space.decode(arch)) for arch in pool)
    chosen = choose_networks(space, default_profile(SPACE), 20, seed=4)
    assert not any(space.constant_output(space.decode(arch)) for arch in chosen)


def test_a_resolution_is_kept_and_a_missing_one_refused(tmp_path):
    space, reference = searchspaces.get("mobilenetv3"), default_profile("mobilenetv3")
    chosen = choose_networks(space, reference, 5, resolution=160, seed=1)
    assert {space.resolution(space.decode(arch)) for arch in chosen} == {160} and len(set(chosen)) == 5
    with pytest.raises(ValueError, match="resolution: .* no resolution 150"):
        make_kit("mobilenetv3", tmp_path / "kit", n=5, resolution=150)
    with pytest.raises(ValueError, match="n: a kit has 5 to 200 networks, got 4"):
        make_kit(SPACE, tmp_path / "kit", n=4)
    assert not (tmp_path / "kit").exists()


def test_measure_py_times_the_kit_into_a_csv_that_the_fit_accepts(kit_dir, tmp_path):
    out = tmp_path / "times.csv"
    result = subprocess.run(
        [sys.executable, str(kit_dir / "measure.py"), "--repeats", "2", "--warmup", "1", "--rounds", "1",
         "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout and result.stderr.count("round 1/1") == N
    rows = read_csv(out.read_bytes())
    kit = json.loads((kit_dir / "kit.json").read_text())
    measured = check_measurements(SPACE, rows, minimum=N)
    assert [arch for arch, _ in measured] == [network["arch"] for network in kit["networks"]]


def test_measure_py_says_what_is_missing(tmp_path):
    script = Path(__file__).parents[2] / "nas" / "latency" / "kit_measure.py"
    result = subprocess.run([sys.executable, str(script), "--kit", str(tmp_path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "no kit.json in" in result.stderr


def test_cli_kit_writes_a_kit_and_says_what_to_do_next(tmp_path):
    out = tmp_path / "pi-kit"
    result = CliRunner().invoke(cli.app, ["kit", "--space", SPACE, "--n", "5", "--seed", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("net_*.onnx"))) == 5 and (out / "measure.py").exists()
    assert f"python {out / 'measure.py'} --threads N" in result.stdout
    assert f"nas devices fit NAME --space {SPACE} --measurements {out / 'measurements.csv'}" in result.stdout
    again = CliRunner().invoke(cli.app, ["kit", "--space", SPACE, "--n", "5", "--out", str(out)])
    assert again.exit_code == 2 and "--out: " in again.stderr and "--overwrite" in again.stderr


@pytest.mark.parametrize("args, message", [
    (["--space", "resnet"], "--space: unknown space 'resnet'"),
    (["--space", SPACE, "--n", "4"], "--n"),
    (["--space", SPACE, "--n", "201"], "--n"),
    (["--space", SPACE, "--resolution", "64"], "--resolution: space 'nasbench201' has no resolution 64"),
    (["--space", SPACE, "--num-classes", "0"], "--num-classes"),
])
def test_cli_kit_refuses_bad_flags_by_name(tmp_path, args, message):
    out = tmp_path / "kit"
    result = CliRunner().invoke(cli.app, ["kit", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not out.exists()
