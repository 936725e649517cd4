"""The REST routes of the foundation: health and spaces."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import searchspaces
from api.main import create_app
from nas.latency import default_device, shipped_files
from nas.latency.hardware import describe_hardware
from nas.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("var")
    settings = Settings(database_url=f"sqlite:///{folder / 'nas.db'}", data_dir=str(folder))
    with TestClient(create_app(settings, run_searches=False)) as test_client:
        yield test_client


def test_health(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    # which shipped tables a search without a device gets, and the CPU that chose them
    assert response.json()["cpu"] == describe_hardware()
    assert response.json()["default_device"] == default_device()
    assert (default_device(), "nasbench201") in shipped_files()


def test_spaces_lists_every_registered_space_with_its_size(client):
    response = client.get("/api/v1/spaces")
    assert response.status_code == 200
    body = {row["name"]: row for row in response.json()}
    assert sorted(body) == searchspaces.names()
    for name, row in body.items():
        assert row["size"] == str(searchspaces.get(name).size())  # a string: it may pass 2**53
        assert row["num_block_keys"] == len(searchspaces.get(name).all_blocks())


def test_one_space_has_its_choices_and_an_example(client):
    response = client.get("/api/v1/spaces/mobilenetv3")
    assert response.status_code == 200
    body = response.json()
    assert body["choices"]["kernel"] == [3, 5, 7]
    assert searchspaces.get("mobilenetv3").decode(body["choices"]["example"])


def test_unknown_space_is_a_404_that_names_it(client):
    response = client.get("/api/v1/spaces/resnet50")
    assert response.status_code == 404
    assert "resnet50" in response.json()["detail"]
    assert "mobilenetv3" in response.json()["detail"]


def test_openapi_document_lists_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/health", "/api/v1/spaces", "/api/v1/spaces/{space}"} <= set(paths)


def test_proxies_route_lists_every_proxy_and_its_needs(client):
    response = client.get("/api/v1/proxies")
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()}
    assert set(rows) >= {"synflow", "snip", "grasp", "fisher", "grad_norm", "jacob_cov", "naswot",
                         "zen", "zico", "params", "macs"}
    assert rows["synflow"]["needs_data"] is False and rows["snip"]["needs_labels"] is True
