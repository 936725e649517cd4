"""Export of a stored candidate over REST (``GET /candidates/{id}/model.onnx`` and ``/architecture``; the
deprecated ``/model?format=``) and with ``nas export``,
on SQLite and PostgreSQL; candidates are stored directly through the Store (no Ray)."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import searchspaces
from api.main import create_app
from nas import cli, export
from nas.latency import validate_profile
from nas.settings import Settings
from nas.storage import open_store
from tests.latency.conftest import synthetic_document
from tests.test_cli import env_with, run_nas

SPACE = "nasbench201"
ARCHS = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
         "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|")


def store_search(store, device="x86-64-2core", seed=4) -> tuple[int, list]:
    """A search with a candidate per arch in ``ARCHS``; returns its id and the candidate records."""
    store.devices.ensure_shipped()
    profile = store.profiles.get(device, SPACE)
    record = store.searches.create({"space": SPACE, "seed": seed}, space=SPACE, device=device, profile_id=profile.id,
                                 strategy="random", budget=len(ARCHS), seed=seed)
    space = searchspaces.get(SPACE)
    rows = [{"arch": arch, "arch_hash": space.arch_hash(space.decode(arch)), "scores": {"synflow": 1.0 + i},
             "score": 1.0 + i, "latency_ms": 2.0, "params": 1000, "macs": 2000, "feasible": True}
            for i, arch in enumerate(ARCHS)]
    store.candidates.add(record.id, rows)
    return record.id, store.candidates.list(record.id, sort="created", descending=False)


def seven_class_profile():
    """A NAS-Bench-201 profile of a device whose networks have 7 classes (its head keys say so)."""
    document = synthetic_document()
    keys = sorted(searchspaces.get(SPACE).all_blocks(num_classes=7))
    document.update(num_classes=7, entries={key: {"p50": 0.1, "mean": 0.1, "std": 0.0, "min": 0.1, "count": 60}
                                            for key in keys})
    document["device"]["name"] = "seven-cpu"
    return validate_profile(document)


@pytest.fixture
def client(database_url, tmp_path):
    settings = Settings(database_url=database_url, data_dir=str(tmp_path))
    with TestClient(create_app(settings, run_searches=False)) as test_client:
        yield test_client


def run_onnx(content: bytes, batch: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The model's logits on a seeded input, and that input."""
    session = ort.InferenceSession(content, providers=["CPUExecutionProvider"])
    inputs = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(0)).numpy()
    return session.run(None, {"input": inputs})[0], inputs


def test_onnx_of_a_stored_candidate_runs_with_the_weights_its_search_scored(client):
    search_id, candidates = store_search(client.app.state.store, seed=4)
    candidate = candidates[1]
    response = client.get(f"/api/v1/candidates/{candidate.id}/model.onnx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    assert (f'filename="candidate-{candidate.id}-{SPACE}-{candidate.arch_hash}.onnx"'
            in response.headers["content-disposition"])
    logits, inputs = run_onnx(response.content, batch=2)
    assert logits.shape == (2, 10)  # the shipped profile's class count
    with torch.no_grad():
        expected = export.build(SPACE, candidate.arch, 10, seed=4)(torch.from_numpy(inputs)).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)


def test_json_of_a_stored_candidate_lists_its_layers(client):
    search_id, candidates = store_search(client.app.state.store)
    candidate = candidates[0]
    response = client.get(f"/api/v1/candidates/{candidate.id}/architecture")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["candidate_id"], body["search_id"]) == (candidate.id, search_id)
    assert (body["space"], body["arch"], body["arch_hash"]) == (SPACE, candidate.arch, candidate.arch_hash)
    assert body["num_classes"] == 10 and body["resolution"] == 32
    assert sum(layer["params"] for layer in body["layers"]) == body["params"] > 0
    assert body["layers"][-1]["output_shape"] == [1, 10]
    assert body == {"candidate_id": candidate.id, "search_id": search_id,
                    **export.to_json(SPACE, candidate.arch, 10)}


def test_the_class_count_is_the_search_profiles(client):
    store = client.app.state.store
    store.devices.add("seven-cpu")
    store.profiles.add("seven-cpu", seven_class_profile())
    _, candidates = store_search(store, device="seven-cpu")
    base = f"/api/v1/candidates/{candidates[0].id}"
    assert client.get(f"{base}/architecture").json()["num_classes"] == 7
    assert run_onnx(client.get(f"{base}/model.onnx").content)[0].shape == (1, 7)


@pytest.mark.parametrize("candidate_id", [999, 2**63])  # past the id column's range too: a 404, not a 500
def test_an_unknown_candidate_is_404_naming_it(client, candidate_id):
    for path, params in (("model.onnx", {}), ("architecture", {}), ("model", {}), ("model", {"format": "json"})):
        response = client.get(f"/api/v1/candidates/{candidate_id}/{path}", params=params)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        assert response.json()["detail"] == f"candidate_id: no candidate with id {candidate_id}"


def test_an_unknown_format_is_422_naming_the_field(client):
    _, candidates = store_search(client.app.state.store)
    response = client.get(f"/api/v1/candidates/{candidates[0].id}/model", params={"format": "tflite"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "format"]
    assert "onnx" in response.text and "json" in response.text


def test_the_deprecated_route_still_serves_both_formats(client):
    candidate = store_search(client.app.state.store)[1][0]
    old, new = f"/api/v1/candidates/{candidate.id}/model", f"/api/v1/candidates/{candidate.id}"
    onnx = client.get(old)  # onnx is the default
    assert onnx.headers["content-type"] == "application/octet-stream" and "filename=" in onnx.headers["content-disposition"]
    assert run_onnx(onnx.content)[0].shape == (1, 10)
    assert client.get(old, params={"format": "json"}).json() == client.get(f"{new}/architecture").json()


def test_openapi_documents_one_media_type_per_route_and_the_old_one_deprecated(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/api/v1/candidates/{candidate_id}/model.onnx"]["get"]["responses"]["200"]["content"]) == {
        "application/octet-stream"}
    assert set(paths["/api/v1/candidates/{candidate_id}/architecture"]["get"]["responses"]["200"]["content"]) == {
        "application/json"}
    operation = paths["/api/v1/candidates/{candidate_id}/model"]["get"]
    assert operation["deprecated"] is True
    assert {"application/json", "application/octet-stream"} <= set(operation["responses"]["200"]["content"])
    format_ = next(p for p in operation["parameters"] if p["name"] == "format")
    assert format_["schema"]["$ref"] == "#/components/schemas/ModelFormat" and format_["schema"]["default"] == "onnx"


# -- nas export ------------------------------------------------------------------------------------


def test_cli_exports_a_stored_candidate_and_a_space_arch(tmp_path):
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    with open_store(url) as store:
        _, candidates = store_search(store, seed=4)
    env = env_with(url, tmp_path)

    model = tmp_path / "model.onnx"
    result = run_nas("export", "--candidate", str(candidates[0].id), "--out", str(model), env=env)
    assert result.returncode == 0, result.stderr
    assert f"candidate {candidates[0].id}" in result.stdout
    logits, inputs = run_onnx(model.read_bytes())
    with torch.no_grad():
        expected = export.build(SPACE, candidates[0].arch, 10, seed=4)(torch.from_numpy(inputs)).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)

    described = tmp_path / "arch.json"
    result = run_nas("export", "--space", SPACE, "--arch", ARCHS[1], "--format", "json", "--num-classes", "5",
                     "--out", str(described), env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(described.read_text())
    assert document == {"candidate_id": None, "search_id": None, **export.to_json(SPACE, ARCHS[1], 5)}

    result = run_nas("export", "--candidate", "999", "--out", str(tmp_path / "none.onnx"), env=env)
    assert result.returncode == 2 and "--candidate: no candidate with id 999" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "none.onnx").exists()


@pytest.mark.parametrize("args, message", [
    (["--space", SPACE, "--arch", ARCHS[0].replace("nor_conv_1x1~2", "conv_9x9~2")], "--arch: bad token 'conv_9x9~2'"),
    (["--space", "resnet", "--arch", "x"], "--space: unknown space 'resnet'"),
    (["--space", SPACE], "--arch: required with --space"),
    (["--candidate", "1", "--space", SPACE, "--arch", ARCHS[0]], "give one or the other"),
    (["--candidate", "1", "--format", "tflite"], "--format: must be one of onnx, json, got 'tflite'"),
    (["--candidate", "1", "--num-classes", "0"], "--num-classes"),
])
def test_cli_refuses_bad_flags_by_name(tmp_path, args, message):
    # In process (the subprocess above shows the console script runs): these fail before any database.
    out = tmp_path / "model.onnx"
    result = CliRunner().invoke(cli.app, ["export", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not out.exists()
