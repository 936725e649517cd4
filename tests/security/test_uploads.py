"""Uploads read safely: each probe of issue 28 on datasets, profiles and measurements is a 4xx through
the real routes, and reading a dataset costs memory bounded by what it declares, measured with
tracemalloc (which traces numpy's allocations)."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.lib import format as npy_format

import searchspaces
from api.main import create_app
from nas.datasets.calibration import channel_statistics, read_npz
from nas.datasets.npz import MAX_MEMBERS
from nas.evaluate import ProxyConfig, load_data
from nas.settings import Settings
from tests.latency.conftest import synthetic_document

MEMORY_CAP = 8 * 2**20  # what a refusal may cost (measured: under 1 MiB); the bomb declares 150 MB, once decoded whole

JSON_BODY = {"content-type": "application/json"}  # JSON routes read nothing else (a 415)


@pytest.fixture
def client(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'nas.db'}", data_dir=str(tmp_path))
    with TestClient(create_app(settings, run_searches=False)) as test_client:
        yield test_client


def upload(client, content: bytes, name: str = "probe"):
    return client.post("/api/v1/datasets", files={"file": ("data.npz", content)}, data={"name": name})


def npy_header(shape, descr="|u1") -> bytes:
    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def archive(members: dict[str, bytes], images_shape=None, images_data: int = 0, chunk: int = 2**20) -> bytes:
    """A deflated .npz of ``members``; with ``images_shape``, an ``images.npy`` member of that header
    followed by ``images_data`` zero bytes, streamed a chunk at a time (the test never holds them)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        if images_shape is not None:
            with zipped.open("images.npy", "w", force_zip64=True) as member:
                member.write(npy_header(images_shape))
                zeros, left = bytes(chunk), images_data
                while left:
                    member.write(zeros[:min(chunk, left)])
                    left -= min(chunk, left)
        for name, data in members.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


def peak_bytes(call):
    """``call()`` and the peak of traced memory while it ran."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def fields(response) -> list[str]:
    return [".".join(str(part) for part in item["loc"][1:]) for item in response.json()["detail"]]


LABELS = {"labels.npy": npy(np.zeros(1000, np.int64))}


def test_a_zip_bomb_is_refused_before_anything_is_decompressed(client):
    shape = (1000, 224, 224, 3)  # 150 MB of zeros deflated to ~150 KB: a plausible shape, a bomb's ratio
    bomb = archive(LABELS, shape, int(np.prod(shape)))
    assert len(bomb) < 300_000
    response, peak = peak_bytes(lambda: upload(client, bomb))
    assert response.status_code == 422, response.text
    assert set(fields(response)) == {"file"} and "more than 100x" in response.text
    assert peak < MEMORY_CAP, f"refusing the bomb took {peak / 2**20:.1f} MiB"
    assert client.get("/api/v1/datasets/probe").status_code == 404


def test_a_member_holding_more_than_its_header_declares_is_refused_unread(client):
    content = archive({"labels.npy": npy(np.zeros(12, np.int64))}, (12, 16, 16, 3), 12 * 16 * 16 * 3 + 512 * 1024)
    response, peak = peak_bytes(lambda: upload(client, content))
    assert response.status_code == 422 and fields(response) == ["images"], response.text
    assert "header declares 9,216" in response.text
    assert peak < MEMORY_CAP


@pytest.mark.parametrize("images_shape, labels_shape, field, reason", [
    ((10**6, 3, 1000, 333), (10**6,), "images", "1000000 images; from 1 to 4096"),  # ~10^12 elements
    ((4096, 256, 256, 3), (4096,), "images", "more than the 80 MiB"),  # every side allowed, the total not
    ((12, 16, 16, 3), (10**12,), "labels", "1000000000000 labels"),
])
def test_a_header_declaring_too_much_is_422_not_a_memory_error(client, images_shape, labels_shape, field, reason):
    content = archive({"images.npy": npy_header(images_shape), "labels.npy": npy_header(labels_shape, "<i8")})
    response, peak = peak_bytes(lambda: upload(client, content))
    assert response.status_code == 422, response.text
    assert field in fields(response) and reason in response.text
    assert peak < MEMORY_CAP


def test_an_archive_of_too_many_members_is_422(client):
    members = {f"extra{i}.npy": npy(np.zeros(1, np.uint8)) for i in range(MAX_MEMBERS)}
    response = upload(client, archive({**members, **LABELS, "images.npy": npy(np.zeros((1000, 8, 8, 3), np.uint8))}))
    assert response.status_code == 422 and fields(response) == ["file"], response.text
    assert f"at most {MAX_MEMBERS}" in response.text


def test_object_arrays_are_refused_without_unpickling(client):
    content = archive({"images.npy": npy(np.array([object()] * 3, dtype=object)), **LABELS})
    response = upload(client, content)
    assert response.status_code == 422 and fields(response) == ["images"] and "without pickle" in response.text


def test_preparing_a_search_s_data_copies_the_batch_not_the_set():
    images = np.random.default_rng(0).integers(0, 256, (4000, 32, 32, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=np.arange(4000) % 10)
    content = buffer.getvalue()
    set_bytes = images.nbytes  # 12.3 MB; a float64 copy of it is 98 MB
    uploaded, read_peak = peak_bytes(lambda: read_npz(content))
    config = ProxyConfig(proxies=("naswot",), data="parts", batch_size=64)
    batch, draw_peak = peak_bytes(lambda: load_data(config, searchspaces.get("nasbench201"), 10, uploaded))
    assert batch.inputs.shape == (64, 3, 32, 32)
    assert read_peak < 1.5 * set_bytes, f"reading took {read_peak / 2**20:.1f} MiB, the set is {set_bytes / 2**20:.1f}"
    assert draw_peak < 0.1 * set_bytes, f"drawing a batch took {draw_peak / 2**20:.1f} MiB"


def test_the_channel_statistics_are_the_whole_set_s():
    images = np.random.default_rng(1).integers(0, 256, (300, 3, 20, 20), dtype=np.uint8)
    mean, std = channel_statistics(images.transpose(0, 1, 3, 2))  # a strided view, as channels-last uploads are
    scaled = images.astype(np.float64) / 255
    assert np.allclose(mean, scaled.mean(axis=(0, 2, 3)), rtol=1e-12)
    assert np.allclose(std, scaled.std(axis=(0, 2, 3)), rtol=1e-9)
    assert channel_statistics(np.zeros((2, 3, 8, 8), np.uint8))[1] == (1e-3,) * 3


# --- profiles and measurements ------------------------------------------------------------------------

def profile(**changes) -> str:
    document = synthetic_document()
    document["device"]["name"] = "pi4"
    for dotted, value in changes.items():
        *path, last = dotted.split(".")
        target = document
        for part in path:
            target = target[part]
        target[last] = value
    return json.dumps(document, separators=(",", ":"))


@pytest.fixture
def device(client):
    assert client.post("/api/v1/devices", json={"name": "pi4"}).status_code == 201
    assert client.post("/api/v1/devices/pi4/profiles", headers=JSON_BODY, content=profile()).status_code == 201
    return client


@pytest.mark.parametrize("num_classes", [10**6, 10**9, 2**62])
def test_a_profile_s_num_classes_is_bounded(device, num_classes):
    response = device.post("/api/v1/devices/pi4/profiles", headers=JSON_BODY, content=profile(num_classes=num_classes))
    assert response.status_code == 422 and fields(response) == ["num_classes"], response.text
    assert "100000" in response.text


NETWORK = {"arch": "a", "measured_ms": 1.0, "predicted_ms": 1.0}  # 150,000 of them fit in the 8 MiB body limit


@pytest.mark.parametrize("changes, field", [
    ({"validation.networks": [NETWORK] * 150_000}, "validation.networks"),  # the probe: 7 MB, once accepted
    ({"calibration.networks": [NETWORK] * 10_001}, "calibration.networks"),
    ({"validation.networks": [{**NETWORK, "arch": "x" * 2**20}]}, "validation.networks.0.arch"),
    ({"entries": {f"key{i}": {"p50": 1.0, "mean": 1.0, "std": 0.0, "count": 1} for i in range(10_001)}}, "entries"),
])
def test_a_profile_s_lists_and_strings_are_bounded(device, changes, field):
    response = device.post("/api/v1/devices/pi4/profiles", headers=JSON_BODY, content=profile(**changes))
    assert response.status_code == 422, response.text[:2000]
    assert field in fields(response), fields(response)[:5]
    assert len(response.content) < 100_000  # a refusal never echoes the megabyte back
    assert [p["version"] for p in device.get("/api/v1/devices/pi4/profiles").json()] == [1]


def test_a_megabyte_arch_string_in_measurements_is_422_naming_it(client):
    arch = "|nor_conv_3x3~0|" * (2**20 // 16)
    rows = [{"arch": "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "ms": 1.0}, {"arch": arch, "ms": 2.0}]
    response = client.post("/api/v1/devices/pi9/measurements", json={"space": "nasbench201", "measurements": rows})
    assert response.status_code == 422 and fields(response) == ["measurements.1.arch"], response.text[:2000]
    assert len(response.content) < 100_000
    csv = f"arch,ms\n{rows[0]['arch']},1.0\n{arch},2.0\n"
    response = client.post("/api/v1/devices/pi9/measurements", params={"space": "nasbench201"},
                           content=csv, headers={"content-type": "text/csv"})
    assert response.status_code == 422, response.text[:2000]
    assert fields(response) == ["line 3"]  # csv's own bound on a field, read before the arch check's
    assert "a field is longer than 131,072 characters (an arch is at most 2,000)" in response.text
    assert client.get("/api/v1/devices/pi9").status_code == 404


def test_a_dataset_stored_before_a_limit_it_breaks_is_refused_by_name_and_fails_a_queued_search(client, monkeypatch):
    from nas.datasets import calibration
    from nas.search import service
    from tests.datasets.test_calibration import images, npz

    assert upload(client, npz(images=images(n=40, side=32), labels=np.arange(40) % 10), "older").status_code == 201
    queued = client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 8, "proxy": "naswot",
                                                   "data": "older", "proxy_batch": 16})
    assert queued.status_code == 202, queued.text
    monkeypatch.setattr(calibration, "MAX_IMAGES", 32)  # a later release admits fewer images

    refused = client.post("/api/v1/searches", json={"space": "nasbench201", "proxy": "naswot", "data": "older"})
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["detail"]
    assert problem["loc"] == ["body", "data"] and "'older'" in problem["msg"] and "40 images" in problem["msg"]

    store = client.app.state.store
    record = store.searches.update(queued.json()["id"], status="running")
    unused = lambda *args, **kwargs: pytest.fail("the search was evaluated")  # noqa: E731
    finished = service.run(store, record, unused)
    assert finished.status == "failed" and "upload it again" in finished.error
    assert store.searches.get(record.id).error == finished.error
    assert len(client.get("/api/v1/searches").json()) == 1
