"""Calibration datasets over REST (upload, list, refusals), the body size limit, and a search that
names an uploaded dataset; on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from nas.datasets import calibration
from nas.evaluate import ProxyConfig
from nas.search.persist import stored_dataset
from nas.settings import Settings
from tests.datasets.test_calibration import images, npz

LIMIT = 256 * 1024


@pytest.fixture
def client(database_url, tmp_path):
    settings = Settings(database_url=database_url, data_dir=str(tmp_path), max_upload_bytes=LIMIT)
    with TestClient(create_app(settings, run_searches=False)) as test_client:
        yield test_client


def upload(client, name, content, **fields):
    return client.post("/api/v1/datasets", files={"file": ("data.npz", content)}, data={"name": name, **fields})


def test_built_in_datasets_are_listed(client):
    listed = {d["name"]: d for d in client.get("/api/v1/datasets").json()}
    assert listed["cifar10_sample"]["built_in"] and listed["cifar10_sample"]["num_images"] == 550
    assert listed["synthetic"]["num_images"] is None
    assert client.get("/api/v1/datasets/cifar10_sample").json()["num_classes"] == 10


def test_upload_list_and_use_in_a_search(client):
    content = npz(images=images(n=40, side=32), labels=np.arange(40) % 10)
    response = upload(client, "parts", content, description="factory parts")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["num_images"], body["height"], body["num_classes"], body["built_in"]) == (40, 32, 10, False)
    assert body["size_bytes"] == len(content)
    assert client.get("/api/v1/datasets/parts").json()["sha256"] == body["sha256"]
    assert "parts" in [d["name"] for d in client.get("/api/v1/datasets").json()]
    again = upload(client, "parts", content)
    assert again.status_code == 409 and "name" in again.json()["detail"]

    search = client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 8, "proxy": "naswot",
                                                   "data": "parts", "proxy_batch": 16})
    assert search.status_code == 202, search.text
    assert search.json()["request"]["data"] == "parts"


def test_channel_statistics_are_computed_once_at_upload_and_read_back_by_searches(client, monkeypatch):
    pixels = images(n=24, side=16, channels_last=False)
    response = upload(client, "stats", npz(images=pixels, labels=np.arange(24) % 10))
    assert response.status_code == 201, response.text
    mean, std = calibration.channel_statistics(pixels)
    assert response.json()["channel_mean"] == pytest.approx(list(mean))
    assert response.json()["channel_std"] == pytest.approx(list(std))

    def recomputed(_images):
        raise AssertionError("a search recomputed the statistics the upload stored")

    monkeypatch.setattr(calibration, "channel_statistics", recomputed)
    store = client.app.state.store
    loaded = stored_dataset(store, ProxyConfig(proxies=("naswot",), data="stats", batch_size=8), num_classes=10)
    assert loaded.mean == pytest.approx(mean) and loaded.std == pytest.approx(std)


@pytest.mark.parametrize("request_body, field", [
    ({"space": "nasbench201", "proxy": "naswot", "data": "nowhere"}, "data"),
    ({"space": "nasbench201", "proxy": "naswot", "data": "parts", "proxy_batch": 64}, "proxy_batch"),
    ({"space": "nasbench201", "proxy": "naswot", "data": "many"}, "data"),
    ({"space": "nasbench201", "data": "no spaces allowed"}, "data"),
])
def test_searches_naming_a_dataset_it_cannot_serve_are_refused(client, request_body, field):
    upload(client, "parts", npz(images=images(n=40, side=32), labels=np.arange(40) % 10))
    upload(client, "many", npz(images=images(n=40, side=32), labels=np.arange(40)))
    response = client.post("/api/v1/searches", json=request_body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field], response.text
    assert client.get("/api/v1/searches").json() == []


def test_bad_uploads_name_each_problem_and_store_nothing(client):
    bad = upload(client, "bad", npz(images=images().astype(np.int16), labels=np.full(12, -1)))
    assert bad.status_code == 422
    fields = [item["loc"][-1] for item in bad.json()["detail"]]
    assert fields == ["images", "labels"], bad.text
    assert upload(client, "junk", b"not an npz").json()["detail"][0]["loc"] == ["body", "file"]
    named = upload(client, "bad name!", npz(images=images(), labels=np.zeros(12, int)))
    assert named.status_code == 422 and "name" in named.text
    built_in = upload(client, "cifar10_sample", npz(images=images(), labels=np.zeros(12, int)))
    assert built_in.status_code == 409 and "built-in" in built_in.text
    classes = upload(client, "c", npz(images=images(), labels=np.full(12, 5)), num_classes="3")
    assert classes.status_code == 422 and "num_classes=3" in classes.text
    missing = client.post("/api/v1/datasets", files={"name": (None, "nofile")})
    assert missing.status_code == 422 and "file" in missing.text
    form = client.post("/api/v1/datasets", data={"name": "form"})  # not multipart at all
    assert form.status_code == 415 and "multipart/form-data" in form.text
    assert [d["name"] for d in client.get("/api/v1/datasets").json() if not d["built_in"]] == []
    assert client.get("/api/v1/datasets/bad").status_code == 404


def test_bodies_over_the_limit_are_413_and_store_nothing(client):
    big = npz(images=images(n=300, side=32), labels=np.zeros(300, int))
    assert len(big) > LIMIT
    response = upload(client, "big", big)
    assert response.status_code == 413 and "NAS_MAX_UPLOAD_BYTES" in response.json()["detail"]

    def chunked():  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 8192):
            yield big[start:start + 8192]

    streamed = client.post("/api/v1/devices/x86-64-2core/profiles", content=chunked(),
                           headers={"content-type": "application/json"})
    assert streamed.status_code == 413, streamed.text
    assert client.get("/api/v1/datasets/big").status_code == 404
    assert client.get("/api/v1/health").status_code == 200
