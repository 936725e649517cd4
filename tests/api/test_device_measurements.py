"""POST /devices/{name}/measurements: a profile fitted from whole networks timed end to end, sent as
JSON or as a CSV of arch,ms; on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from nas.latency import DEFAULT_DEVICE, default_profile, predict_many
from nas.settings import Settings
from tests.test_cli_fit import SCALE, csv_text, timed_networks

URL = "/api/v1/devices/{}/measurements"
ROWS = timed_networks(12)
BOGUS = "|not_an_op~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture
def client(database_url, tmp_path):
    settings = Settings(database_url=database_url, data_dir=str(tmp_path), max_upload_bytes=64 * 1024)
    with TestClient(create_app(settings, run_searches=False)) as test_client:
        yield test_client


def body(rows=ROWS, **fields) -> dict:
    return {"space": "nasbench201", "measurements": [{"arch": a, "ms": ms} for a, ms in rows], **fields}


def post_csv(client, name, text, **params):
    return client.post(URL.format(name), content=text, params={"space": "nasbench201", **params},
                       headers={"content-type": "text/csv"})


def test_json_measurements_register_the_device_and_a_fitted_profile(client):
    response = client.post(URL.format("npu1"),
                           json=body(hardware="Edge TPU", runtime="tflite", tool="benchmark_model"))
    assert response.status_code == 201, response.text
    out = response.json()
    assert (out["device"], out["search_space"], out["version"]) == ("npu1", "nasbench201", 1)
    assert out["device_created"] is True
    assert out["fit"]["n"] == 12 and out["fit"]["tool"] == "benchmark_model" and out["fit"]["method"]
    assert out["validation"]["method"] == "leave-one-out" and out["validation"]["n"] == 12
    assert out["validation"]["spearman"] > 0.9 and out["validation"]["within_10pct"] > 0.9
    assert [p["arch"] for p in out["networks"]] == [a for a, _ in ROWS]
    assert out["runtime"] == "tflite" and out["coverage"] == 1.0
    device = client.get("/api/v1/devices/npu1").json()
    assert device["hardware"] == "Edge TPU" and device["shipped"] is False
    assert device["profiles"][0]["fit"]["n"] == 12


def test_csv_measurements_add_the_next_version_and_predict_like_any_profile(client):
    assert client.post(URL.format("npu1"), json=body()).status_code == 201
    response = post_csv(client, "npu1", csv_text(ROWS), runtime="tflite", threads="4")
    assert response.status_code == 201, response.text
    assert (response.json()["version"], response.json()["device_created"]) == (2, False)
    listed = client.get("/api/v1/devices/npu1/profiles").json()
    assert [(p["version"], p["fit"]["n"]) for p in listed] == [(1, 12), (2, 12)]
    shipped = client.get(f"/api/v1/devices/{DEFAULT_DEVICE}/profiles", params={"space": "nasbench201"}).json()
    assert all(p["fit"] is None for p in shipped)

    store = client.app.state.store
    profile = store.profiles.load(store.profiles.get("npu1", "nasbench201").id)
    assert profile.device.threads == 4
    archs = [a for a, _ in ROWS]
    expected = [SCALE * ms for ms in predict_many(default_profile("nasbench201"), archs)]
    assert all(abs(p / e - 1) < 0.1 for p, e in zip(predict_many(profile, archs), expected))


def bad_json_rows():
    rows = [{"arch": a, "ms": ms} for a, ms in ROWS]
    raw = json.dumps({"space": "nasbench201", "measurements": rows})
    nan = raw.replace(json.dumps(ROWS[3][1]), "NaN", 1)
    infinite = raw.replace(json.dumps(ROWS[3][1]), "Infinity", 1)
    changed = [
        (3, {"ms": True}), (3, {"ms": "12.5"}), (3, {"ms": 0}), (3, {"ms": -2.0}), (3, {"arch": BOGUS}),
        (3, {"arch": ROWS[0][0], "ms": 2 * ROWS[0][1]}),  # the network of row 0, timed twice as long
    ]
    cases = [(nan, 3, "ms"), (infinite, 3, "ms")]
    for index, change in changed:
        edited = [dict(row) for row in rows]
        edited[index].update(change)
        field = "arch" if "arch" in change and "ms" not in change else "ms"
        cases.append((json.dumps({"space": "nasbench201", "measurements": edited}), index, field))
    return cases


@pytest.mark.parametrize("raw, index, field", bad_json_rows())
def test_bad_json_rows_are_422_naming_the_row_and_nothing_is_stored(client, raw, index, field):
    response = client.post(URL.format("npu1"), content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert [p["loc"] for p in problems] == [["body", "measurements", index, field]]
    assert f"measurements[{index}]" in problems[0]["msg"]
    read_by_pydantic = "(arch " not in problems[0]["msg"]  # the model's own type, else the check's
    assert (problems[0]["type"] != "measurement") == read_by_pydantic
    assert client.get("/api/v1/devices/npu1").status_code == 404


def test_bad_csv_rows_are_422_with_one_entry_per_line(client):
    lines = csv_text(ROWS).splitlines()
    lines[3] = f"{ROWS[2][0]},nan"
    lines[6] = f"{ROWS[5][0]},fast"
    response = post_csv(client, "npu1", "\n".join(lines) + "\n")
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert [p["loc"] for p in problems] == [["body", "line 4", "ms"], ["body", "line 7", "ms"]]
    assert {p["type"] for p in problems} == {"measurement"}
    assert problems[0]["msg"].startswith("line 4") and "nan" in problems[0]["msg"]
    lines[3], lines[6] = f"{BOGUS},3.0", f"{ROWS[5][0]},{ROWS[5][1]}"
    response = post_csv(client, "npu1", "\n".join(lines) + "\n")
    assert [p["loc"] for p in response.json()["detail"]] == [["body", "line 4", "arch"]]
    assert client.get("/api/v1/devices/npu1").status_code == 404


@pytest.mark.parametrize("send, loc", [
    (lambda c: c.post(URL.format("npu1"), json=body(space="resnet")), ["body", "space"]),
    (lambda c: c.post(URL.format("npu1"), content=csv_text(ROWS), params={"space": "resnet"},
                      headers={"content-type": "text/csv"}), ["query", "space"]),
    (lambda c: c.post(URL.format("npu1"), content=csv_text(ROWS), headers={"content-type": "text/csv"}),
     ["query", "space"]),
])
def test_an_unknown_or_missing_space_is_422_naming_the_known_ones(client, send, loc):
    response = send(client)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    assert "nasbench201" in response.json()["detail"][0]["msg"]


def test_too_few_networks_and_bad_device_fields_are_422(client):
    response = client.post(URL.format("npu1"), json=body(ROWS[:3]))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "measurements"]
    response = post_csv(client, "npu1", csv_text(ROWS), threads="0", precision="fp8")
    assert response.status_code == 422
    assert [p["loc"] for p in response.json()["detail"]] == [["query", "threads"], ["query", "precision"]]
    response = client.post(URL.format("npu1"), json=body(), params={"runtime": "tflite"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "runtime"]


def test_another_content_type_is_415(client):
    response = client.post(URL.format("npu1"), content=csv_text(ROWS), headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert "text/csv" in response.json()["detail"]


def test_a_shipped_device_is_refused_and_keeps_its_profiles(client):
    before = client.get(f"/api/v1/devices/{DEFAULT_DEVICE}/profiles").json()
    response = client.post(URL.format(DEFAULT_DEVICE), json=body())
    assert response.status_code == 409
    assert "shipped" in response.json()["detail"]
    assert client.get(f"/api/v1/devices/{DEFAULT_DEVICE}/profiles").json() == before


def test_a_search_can_name_the_fitted_device(client):
    assert client.post(URL.format("npu1"), json=body()).status_code == 201
    response = client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 4, "device": "npu1"})
    assert response.status_code == 202, response.text
    assert (response.json()["device"], response.json()["profile_version"]) == ("npu1", 1)


def test_the_devices_page_holds_the_fit_form_and_its_script_posts_csv(client):
    from tests.api.test_dashboard_pages import page

    devices = page(client, "/devices", "devices")
    devices.one("form", id="fit-form")
    devices.one("select", id="f-space")
    devices.one("input", type="file", name="measurements")
    devices.one("ul", id="fit-errors")
    devices.one("p", id="fit-result")
    script = client.get("/static/devices.js").text
    assert "/measurements?" in script and '"text/csv"' in script and "innerHTML" not in script
