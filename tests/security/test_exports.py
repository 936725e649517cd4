"""Exports off the request path (issue 28): built once per network and format in a builder process,
cached under data_dir/exports, streamed; refused by parameter count before anything is built; bounded
in builds waiting and in disk; a builder that dies is a 503, and the next request starts a new one."""

from __future__ import annotations

import os
import signal
from concurrent.futures import wait

import pytest
from fastapi.testclient import TestClient

import searchspaces
from api.main import create_app
from nas import export_cache
from nas.export import Exportable
from nas.export_cache import ExportBusy, ExportCache, ExportFailed
from nas.settings import Settings
from tests.api.test_export import ARCHS, SPACE, run_onnx, store_search

pytestmark = pytest.mark.backends("sqlite")  # the cache is files; the database only names the candidate


@pytest.fixture
def service(database_url, tmp_path):
    settings = Settings(database_url=database_url, data_dir=str(tmp_path), max_export_params=5000)
    with TestClient(create_app(settings, run_searches=False)) as client:
        yield client, client.app.state.store, tmp_path / "exports"


def test_a_candidate_is_built_once_and_served_from_the_cache(service):
    client, store, folder = service
    _, candidates = store_search(store)
    url = f"/api/v1/candidates/{candidates[0].id}/model.onnx"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["content-length"] == str(len(first.content))
    [built] = folder.glob("*.onnx")
    inode = built.stat().st_ino
    again = client.get(url)
    assert again.content == first.content
    assert built.stat().st_ino == inode, "the file was built again (a rebuild replaces it)"
    run_onnx(again.content)  # a whole, valid model
    architecture = client.get(f"/api/v1/candidates/{candidates[0].id}/architecture").json()
    assert architecture["candidate_id"] == candidates[0].id and architecture["arch"] == ARCHS[0]
    assert len(list(folder.glob("*.json"))) == 1


def test_a_candidate_over_the_parameter_limit_is_422_and_nothing_is_built(service):
    client, store, folder = service
    search_id, [small, _] = store_search(store)
    arch = ARCHS[0].replace("nor_conv_3x3", "nor_conv_1x1")
    row = {key: getattr(small, key) for key in ("scores", "score", "latency_ms", "macs", "feasible")}
    store.candidates.add(search_id, [{**row, "arch": arch, "arch_hash": searchspaces.get(SPACE).arch_hash(
        searchspaces.get(SPACE).decode(arch)), "params": 65_800_000}])  # over the service's limit (5,000 here)
    large = store.candidates.list(search_id, sort="params", descending=True)[0]
    assert large.params == 65_800_000
    for route in ("model.onnx", "architecture"):
        response = client.get(f"/api/v1/candidates/{large.id}/{route}")
        assert response.status_code == 422, response.text
        [problem] = response.json()["detail"]
        assert problem["loc"] == ["path", "candidate_id"]
        assert "65,800,000 parameters" in problem["msg"] and "5,000 (NAS_MAX_EXPORT_PARAMS)" in problem["msg"]
    assert not folder.exists() or not any(folder.iterdir())


def test_too_many_builds_waiting_is_429_with_retry_after(service, monkeypatch):
    client, store, _ = service
    _, candidates = store_search(store)
    monkeypatch.setattr(export_cache, "MAX_WAITING", 0)
    response = client.get(f"/api/v1/candidates/{candidates[0].id}/model.onnx")
    assert response.status_code == 429 and response.headers["retry-after"] == "5", response.text
    assert "exports are being built" in response.json()["detail"]


def target(arch: str, seed: int = 0) -> Exportable:
    return Exportable(space=SPACE, arch=arch, num_classes=10, seed=seed, params=100)


def test_requests_for_one_file_share_one_build_and_a_full_queue_refuses_more(tmp_path, monkeypatch):
    monkeypatch.setattr(export_cache, "MAX_WAITING", 1)
    cache = ExportCache(tmp_path, max_bytes=2**30, max_params=10**6)
    first = cache.submit(target(ARCHS[0]), "onnx")
    assert cache.submit(target(ARCHS[0]), "onnx") is first
    with pytest.raises(ExportBusy):
        cache.submit(target(ARCHS[1]), "onnx")
    assert first.result(timeout=120).exists()
    assert cache.submit(target(ARCHS[1]), "onnx").result(timeout=120).exists()  # room again


def test_the_folder_keeps_within_its_size_by_removing_the_least_recently_served(tmp_path):
    cache = ExportCache(tmp_path, max_bytes=1, max_params=10**6)  # room for the newest file only
    paths = [cache.submit(target(ARCHS[0], seed), "json").result(timeout=120) for seed in (1, 2)]
    assert paths[0] != paths[1]
    assert not paths[0].exists() and paths[1].exists()


def test_a_builder_that_dies_is_reported_and_the_next_request_starts_a_new_one(tmp_path):
    cache = ExportCache(tmp_path, max_bytes=2**30, max_params=10**6)
    building = cache.submit(target(ARCHS[1], seed=7), "onnx")
    for process in list(export_cache._POOL._processes.values()):  # what the kernel does when memory runs out
        os.kill(process.pid, signal.SIGKILL)
    wait([building], timeout=120)
    with pytest.raises(ExportFailed) as failed:
        building.result()
    assert failed.value.stopped and "stopped before finishing" in str(failed.value)
    assert cache.submit(target(ARCHS[1], seed=7), "onnx").result(timeout=120).exists()
