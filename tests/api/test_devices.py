"""The device registry over REST, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from nas.settings import Settings
from tests.latency.conftest import synthetic_document

JSON_BODY = {"content-type": "application/json"}  # JSON routes read nothing else (a 415)


@pytest.fixture
def client(database_url, tmp_path):
    settings = Settings(database_url=database_url, data_dir=str(tmp_path), max_upload_bytes=64 * 1024)
    with TestClient(create_app(settings, run_searches=False)) as test_client:
        yield test_client


def document(name="pi4"):
    data = synthetic_document()
    data["device"]["name"] = name
    return data


def test_shipped_device_is_listed_with_a_profile_per_space(client):
    devices = client.get("/api/v1/devices").json()
    shipped = next(d for d in devices if d["name"] == "x86-64-2core")
    assert shipped["shipped"] is True
    spaces = {p["search_space"]: p for p in shipped["profiles"]}
    assert set(spaces) == {"mobilenetv3", "shufflenetv2", "metaformer", "nasbench201"}
    assert all(p["coverage"] == 1.0 and p["validation"]["n"] > 0 for p in spaces.values())


def test_register_upload_and_list_versions(client):
    created = client.post("/api/v1/devices", json={"name": "pi4", "hardware": "Raspberry Pi 4"})
    assert created.status_code == 201, created.text
    assert created.json()["profiles"] == []
    first = client.post("/api/v1/devices/pi4/profiles", headers=JSON_BODY, content=json.dumps(document()))
    assert first.status_code == 201, first.text
    second = client.post("/api/v1/devices/pi4/profiles", headers=JSON_BODY, content=json.dumps(document()))
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert first.json()["block_keys"] == first.json()["required_keys"]
    listed = client.get("/api/v1/devices/pi4/profiles", params={"space": "nasbench201"}).json()
    assert [p["version"] for p in listed] == [1, 2]
    assert client.get("/api/v1/devices/pi4").json()["hardware"] == "Raspberry Pi 4"


@pytest.mark.parametrize("body, status, field", [
    ({"name": "bad name!"}, 422, "name"),
    ({"name": "pi4", "colour": "red"}, 422, "colour"),
    ({}, 422, "name"),
])
def test_bad_devices_are_refused_by_field(client, body, status, field):
    response = client.post("/api/v1/devices", json=body)
    assert response.status_code == status
    assert field in response.text


def test_duplicate_device_is_a_conflict_naming_the_field(client):
    assert client.post("/api/v1/devices", json={"name": "pi4"}).status_code == 201
    response = client.post("/api/v1/devices", json={"name": "pi4"})
    assert response.status_code == 409
    assert "name" in response.json()["detail"]


def bad_documents():
    nan = re.sub(r'"overhead_ms": [0-9.e+-]+', '"overhead_ms": NaN', json.dumps(document()))
    negative = document()
    key = next(iter(negative["entries"]))
    negative["entries"][key]["p50"] = -1.0
    unit = document()
    unit["measurement"]["unit"] = "s"
    space = document()
    space["search_space"] = "resnet"
    missing = document()
    missing["entries"].pop(key)
    floats = document()
    floats["resolutions"] = [32.0]
    return [
        ("not json", "not JSON"),
        (nan, "overhead_ms: must be a finite number"),
        (json.dumps(negative), key),
        (json.dumps(unit), "unit"),
        (json.dumps(space), "resnet"),
        (json.dumps(missing), "missing"),
        (json.dumps(document("other-device")), "device.name"),
        (json.dumps({**document(), "measurement": ["min"]}), "measurement: Input should be a valid dictionary"),
        (json.dumps(floats), "resolutions.0: Input should be a valid integer"),
        ("[" * 60_000, "nested too deeply"),
    ]


@pytest.mark.parametrize("body, reason", bad_documents())
def test_bad_profiles_are_refused_with_every_problem_and_nothing_stored(client, body, reason):
    client.post("/api/v1/devices", json={"name": "pi4"})
    assert client.post("/api/v1/devices/pi4/profiles", headers=JSON_BODY, content=json.dumps(document())).status_code == 201
    response = client.post("/api/v1/devices/pi4/profiles", headers=JSON_BODY, content=body)
    assert response.status_code == 422, response.text
    assert reason in response.text
    assert all("msg" in problem and problem["loc"][0] == "body" for problem in response.json()["detail"])
    assert [p["version"] for p in client.get("/api/v1/devices/pi4/profiles").json()] == [1]


def test_profile_problems_are_at_their_fields_list_positions_as_integers(client):
    client.post("/api/v1/devices", json={"name": "pi4"})
    bad = document()
    bad["resolutions"] = [32.0]
    bad["entries"]["my key"] = {"p50": -1.0, "mean": 1.0, "std": 0.0, "count": 1}
    response = client.post("/api/v1/devices/pi4/profiles", headers=JSON_BODY, content=json.dumps(bad))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert [p["loc"] for p in detail] == [["body", "resolutions", 0], ["body", "entries", "my key", "p50"]]
    assert detail[1]["msg"] == "entries.my key.p50: Input should be greater than or equal to 0"
    assert {p["type"] for p in detail} == {"profile"}
    response = client.post("/api/v1/devices/pi4/profiles", headers=JSON_BODY, content=json.dumps(document("pi5")))
    assert response.json()["detail"] == [{"loc": ["body", "device", "name"], "type": "profile",
                                          "msg": "device.name: the profile was measured as 'pi5', uploaded to 'pi4'"}]


def test_uploads_over_the_size_limit_are_refused(client):
    client.post("/api/v1/devices", json={"name": "pi4"})
    response = client.post("/api/v1/devices/pi4/profiles", headers=JSON_BODY, content=b"{" + b" " * (65 * 1024) + b"}")
    assert response.status_code == 413
    assert "NAS_MAX_UPLOAD_BYTES" in response.json()["detail"]


def test_unknown_devices_are_404_naming_them(client):
    for response in (client.get("/api/v1/devices/nope"), client.get("/api/v1/devices/nope/profiles"),
                     client.post("/api/v1/devices/nope/profiles", headers=JSON_BODY, content=json.dumps(document("nope")))):
        assert response.status_code == 404
        assert "nope" in response.json()["detail"]


@pytest.mark.parametrize("method, url, kwargs, field", [
    ("get", "/api/v1/devices/bad name!", {}, "name"),
    ("get", "/api/v1/devices/x86-64-2core/profiles", {"params": {"space": "resnet"}}, "space"),
    ("post", "/api/v1/devices", {"json": {"name": "pi4", "hardware": "Pi\x004"}}, "hardware"),
])
def test_names_the_registry_cannot_hold_are_refused_by_field(client, method, url, kwargs, field):
    response = getattr(client, method)(url, **kwargs)
    assert response.status_code == 422, response.text
    assert [problem["loc"][-1] for problem in response.json()["detail"]] == [field]
