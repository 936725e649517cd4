"""Who may do what (issue 26): every route of the OpenAPI document x every kind of caller.

``RULES`` names each operation's rule, and ``CALLS`` how to call it; a route added to the API without
both fails ``test_every_operation_has_a_rule_here_and_in_the_document`` (and the app itself refuses to
build with a route that names no rule: ``api.auth.check_rules``). A caller that may call a route gets
anything but 401 or 403 (its 404 or 409 is the route's own business); one that may not gets 401 (no
key, a bad or revoked key) or 403 (a role or an owner that does not allow it), each with a message.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.routes.devices import EXAMPLE_ARCHS
from nas.latency import DEFAULT_DEVICE, read_shipped
from nas.settings import Settings

# The rule of each operation: anyone (no key needed), viewer (any key), member (a member or admin key),
# owner (a member that made it, or an admin), admin.
RULES = {
    "getHealth": "anyone",
    "listSpaces": "viewer", "getSpace": "viewer", "listProxies": "viewer",
    "listDevices": "viewer", "getDevice": "viewer", "listProfiles": "viewer",
    "createDevice": "member", "uploadProfile": "owner", "fitMeasurements": "owner",
    "submitSearch": "member", "listSearches": "viewer", "getSearch": "viewer", "cancelSearch": "owner",
    "deleteSearch": "owner",
    "listCandidates": "viewer", "getSearchPlot": "viewer", "getParetoFront": "viewer",
    "listDatasets": "viewer", "uploadDataset": "member", "getDataset": "viewer",
    "getCandidate": "viewer", "downloadCandidateOnnx": "viewer", "getCandidateArchitecture": "viewer", "getCandidateModel": "viewer",
    "listKeys": "admin", "createKey": "admin", "getCurrentKey": "viewer", "revokeKey": "admin",
}
CALLERS = ("none", "bad", "revoked", "viewer", "owner", "other", "admin")
MAY = {  # which callers each rule lets through
    "anyone": set(CALLERS), "viewer": {"viewer", "owner", "other", "admin"}, "member": {"owner", "other", "admin"},
    "owner": {"owner", "admin"}, "admin": {"admin"},
}
BOARD = "alice-board"  # a device the member "alice" (the owner) registered


def _profile() -> bytes:
    document = json.loads(read_shipped(DEFAULT_DEVICE, "nasbench201").to_json())
    document["device"]["name"] = BOARD
    return json.dumps(document).encode()


def _npz() -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, images=np.zeros((4, 8, 8, 3), np.uint8), labels=np.arange(4) % 2)
    return buffer.getvalue()


CSV = "arch,ms\n" + "".join(f"{arch},{ms}\n" for arch, ms in EXAMPLE_ARCHS.items())
JSON = {"content-type": "application/json"}


def _calls(search: int, candidate: int) -> dict[str, tuple[str, str, dict]]:
    """operationId -> (method, path, httpx keyword arguments); ``search`` and ``candidate`` are the
    owner's. Bodies are valid, so an allowed caller gets the route's own answer."""
    return {
        "getHealth": ("GET", "/api/v1/health", {}),
        "listSpaces": ("GET", "/api/v1/spaces", {}), "getSpace": ("GET", "/api/v1/spaces/nasbench201", {}),
        "listProxies": ("GET", "/api/v1/proxies", {}),
        "listDevices": ("GET", "/api/v1/devices", {}), "getDevice": ("GET", f"/api/v1/devices/{BOARD}", {}),
        "listProfiles": ("GET", f"/api/v1/devices/{BOARD}/profiles", {}),
        "createDevice": ("POST", "/api/v1/devices", {"json": {"name": "another-board"}}),
        "uploadProfile": ("POST", f"/api/v1/devices/{BOARD}/profiles", {"content": _profile(), "headers": JSON}),
        "fitMeasurements": ("POST", f"/api/v1/devices/{BOARD}/measurements?space=nasbench201",
                            {"content": CSV.encode(), "headers": {"content-type": "text/csv"}}),
        "submitSearch": ("POST", "/api/v1/searches", {"json": {"space": "nasbench201", "budget": 4}}),
        "listSearches": ("GET", "/api/v1/searches", {}), "getSearch": ("GET", f"/api/v1/searches/{search}", {}),
        "cancelSearch": ("POST", f"/api/v1/searches/{search}/cancel", {}),
        # the owner's second search, still queued: a 409 to those allowed, so every caller finds it there
        "deleteSearch": ("DELETE", f"/api/v1/searches/{search + 1}", {}),
        "listCandidates": ("GET", f"/api/v1/searches/{search}/candidates", {}),
        "getSearchPlot": ("GET", f"/api/v1/searches/{search}/plot", {}),
        "getParetoFront": ("GET", f"/api/v1/searches/{search}/pareto", {}),
        "listDatasets": ("GET", "/api/v1/datasets", {}), "getDataset": ("GET", "/api/v1/datasets/synthetic", {}),
        "uploadDataset": ("POST", "/api/v1/datasets", {"files": {"file": ("d.npz", _npz())},
                                                         "data": {"name": "tiny"}}),
        "getCandidate": ("GET", f"/api/v1/candidates/{candidate}", {}),
        # a candidate that is not there: the rule is checked before the export is built (a 404 after)
        "downloadCandidateOnnx": ("GET", f"/api/v1/candidates/{candidate}/model.onnx", {}),
        "getCandidateArchitecture": ("GET", f"/api/v1/candidates/{candidate}/architecture", {}),
        "getCandidateModel": ("GET", f"/api/v1/candidates/{candidate}/model?format=json", {}),
        "listKeys": ("GET", "/api/v1/keys", {}), "getCurrentKey": ("GET", "/api/v1/keys/me", {}),
        "createKey": ("POST", "/api/v1/keys", {"json": {"name": "made-here", "role": "viewer"}}),
        "revokeKey": ("DELETE", "/api/v1/keys/nobody", {}),
    }


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("auth")
    app = create_app(Settings(database_url=f"sqlite:///{folder / 'nas.db'}", data_dir=str(folder), auth="required"),
                     run_searches=False)
    with TestClient(app) as client:
        store = app.state.store
        keys = {caller: store.keys.create(name, role)[1] for caller, name, role in
                (("viewer", "viewer", "viewer"), ("owner", "alice", "member"), ("other", "bob", "member"),
                 ("admin", "root", "admin"))}
        keys["revoked"] = store.keys.create("gone", "admin")[1]
        store.keys.revoke("gone")
        keys["bad"] = "nas_" + "x" * 43
        alice = {"authorization": f"Bearer {keys['owner']}"}
        assert client.post("/api/v1/devices", json={"name": BOARD}, headers=alice).status_code == 201
        search = client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 4}, headers=alice).json()
        queued = client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 4}, headers=alice).json()
        assert queued["id"] == search["id"] + 1
        yield client, keys, search["id"]


def _headers(keys: dict, caller: str) -> dict:
    return {} if caller == "none" else {"authorization": f"Bearer {keys[caller]}"}


def test_every_operation_has_a_rule_here_and_in_the_document(service):
    client, _, search = service
    document = client.get("/openapi.json").json()
    operations = {op["operationId"]: op for path, ops in document["paths"].items() if path.startswith("/api/")
                  for op in ops.values()}
    assert set(operations) == set(RULES) == set(_calls(search, 1))
    for name, operation in operations.items():
        declared = operation.get("x-role", "anyone")
        assert declared == {"owner": "member"}.get(RULES[name], RULES[name]), name
        assert ("401" in operation["responses"]) == (RULES[name] != "anyone"), name


@pytest.mark.parametrize("caller", CALLERS)
def test_each_caller_gets_what_its_key_allows_on_every_route(service, caller):
    client, keys, search = service
    refused = []
    for operation, (method, path, kwargs) in _calls(search, 10**9).items():
        kwargs = {**kwargs, "headers": {**kwargs.get("headers", {}), **_headers(keys, caller)}}
        response = client.request(method, path, **kwargs)
        allowed = caller in MAY[RULES[operation]]
        got = response.status_code
        assert got < 500, (operation, caller, response.text)
        if allowed:
            assert got not in (401, 403), (operation, caller, response.text)
            continue
        expected = 401 if caller in ("none", "bad", "revoked") else 403
        assert got == expected, (operation, caller, got, response.text)
        assert response.json()["detail"].startswith("authorization: "), response.text
        if got == 401:
            assert response.headers["www-authenticate"] == "Bearer"
        refused.append(operation)
    assert len(refused) == sum(caller not in MAY[rule] for rule in RULES.values())


def test_health_says_only_up_and_the_mode_without_a_key(service):
    client, keys, _ = service
    bare = client.get("/api/v1/health").json()
    assert {k for k, v in bare.items() if v not in (None, [])} == {"status", "version", "auth"}
    assert bare["auth"] == "required"
    full = client.get("/api/v1/health", headers=_headers(keys, "viewer")).json()
    assert full["database"] == "sqlite" and full["default_device"]


def test_owners_are_recorded_and_shown(service):
    client, keys, search = service
    admin = _headers(keys, "admin")
    assert client.get(f"/api/v1/searches/{search}", headers=admin).json()["owner"] == "alice"
    assert client.get(f"/api/v1/devices/{BOARD}", headers=admin).json()["owner"] == "alice"
    assert client.get(f"/api/v1/devices/{DEFAULT_DEVICE}", headers=admin).json()["owner"] is None
    me = client.get("/api/v1/keys/me", headers=_headers(keys, "other")).json()
    assert me == {"name": "bob", "role": "member", "auth": "required"}


def test_shipped_devices_take_no_profile_from_anyone(service):
    client, keys, _ = service
    document = json.loads(read_shipped(DEFAULT_DEVICE, "nasbench201").to_json())
    for caller in ("owner", "admin"):
        upload = client.post(f"/api/v1/devices/{DEFAULT_DEVICE}/profiles", json=document,
                             headers=_headers(keys, caller))
        assert upload.status_code == 409 and "shipped device" in upload.json()["detail"], upload.text
        fit = client.post(f"/api/v1/devices/{DEFAULT_DEVICE}/measurements?space=nasbench201", content=CSV.encode(),
                          headers={"content-type": "text/csv", **_headers(keys, caller)})
        assert fit.status_code == 409, fit.text
    versions = client.get(f"/api/v1/devices/{DEFAULT_DEVICE}/profiles?space=nasbench201",
                          headers=_headers(keys, "viewer")).json()
    assert [p["version"] for p in versions] == [1]

    # An upload kept from before shipped devices were read-only is never what a search without a
    # version uses.
    from tests.storage.test_devices_profiles import _older_row

    assert _older_row(client.app.state.store, shipped=False) == 2
    submitted = client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 4, "device": DEFAULT_DEVICE},
                            headers=_headers(keys, "owner"))
    assert submitted.status_code == 202 and submitted.json()["request"]["profile_version"] == 1, submitted.text


def test_a_dataset_records_its_owner(service):
    client, keys, _ = service
    made = client.post("/api/v1/datasets", files={"file": ("d.npz", _npz())}, data={"name": "alices-set"},
                       headers=_headers(keys, "owner"))
    assert made.status_code == 201, made.text
    assert client.get("/api/v1/datasets/alices-set", headers=_headers(keys, "viewer")).json()["owner"] == "alice"


def test_keys_made_over_rest_work_once_shown_and_stop_when_revoked(service):
    client, keys, _ = service
    admin = _headers(keys, "admin")
    made = client.post("/api/v1/keys", json={"name": "ci-bot", "role": "member"}, headers=admin)
    assert made.status_code == 201 and made.json()["key"].startswith("nas_"), made.text
    key = made.json()["key"]
    bot = {"authorization": f"Bearer {key}"}
    assert client.get("/api/v1/keys/me", headers=bot).json()["name"] == "ci-bot"
    listing = client.get("/api/v1/keys", headers=admin)
    assert key not in listing.text and "key_hash" not in listing.text
    assert {"name": "ci-bot", "role": "member", "created_by": "root"}.items() <= \
        next(k for k in listing.json() if k["name"] == "ci-bot").items()
    assert client.post("/api/v1/keys", json={"name": "ci-bot"}, headers=admin).status_code == 409
    assert client.delete("/api/v1/keys/ci-bot", headers=admin).json()["revoked_at"]
    assert client.get("/api/v1/keys/me", headers=bot).status_code == 401
    own = client.delete("/api/v1/keys/root", headers=admin)
    assert own.status_code == 409 and "another admin" in own.json()["detail"]


def test_a_member_fits_a_new_device_and_owns_it(service):
    client, keys, _ = service
    fit = client.post("/api/v1/devices/bobs-phone/measurements?space=nasbench201", content=CSV.encode(),
                      headers={"content-type": "text/csv", **_headers(keys, "other")})
    assert fit.status_code == 201 and fit.json()["device_created"], fit.text
    assert client.get("/api/v1/devices/bobs-phone", headers=_headers(keys, "other")).json()["owner"] == "bob"
    again = client.post("/api/v1/devices/bobs-phone/measurements?space=nasbench201", content=CSV.encode(),
                        headers={"content-type": "text/csv", **_headers(keys, "owner")})
    assert again.status_code == 403 and "owned by 'bob'" in again.json()["detail"]


def test_auth_off_is_the_loopback_default_and_required_beyond(tmp_path):
    assert Settings(host="127.0.0.1").auth_mode() == "off"
    assert Settings(host="::1").auth_mode() == "off"
    assert Settings(host="0.0.0.0").auth_mode() == "required"
    assert Settings(host="0.0.0.0", auth="off").auth_mode() == "off"
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'nas.db'}", data_dir=str(tmp_path)),
                     run_searches=False)
    with TestClient(app) as client:
        assert client.get("/api/v1/keys/me").json() == {"name": None, "role": "admin", "auth": "off"}
        submitted = client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 4}).json()
        assert submitted["owner"] is None


def test_another_machine_is_refused_while_keys_are_off_only_by_the_loopback_default(tmp_path):
    # The app started by hand (`uvicorn api.main:app --host 0.0.0.0`) with NAS_HOST unset thinks it is on
    # loopback, so keys are off: a request from another machine must not be served.
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'nas.db'}", data_dir=str(tmp_path),
                        allowed_hosts="*", auth=None)

    def status(address: str, settings: Settings = settings) -> tuple[int, str]:
        with TestClient(create_app(settings, run_searches=False), client=(address, 50000)) as client:
            response = client.get("/api/v1/searches")
            return response.status_code, response.text

    refused, text = status("10.0.0.7")
    assert refused == 403 and "NAS_AUTH=off" in text and "10.0.0.7" in text
    assert status("::ffff:10.0.0.7")[0] == 403
    assert status("127.0.0.1")[0] == status("::ffff:127.0.0.1")[0] == 200
    assert status("10.0.0.7", settings.model_copy(update={"auth": "off"}))[0] == 200


def test_allowed_hosts_default_to_loopback_and_the_address_bound():
    assert Settings(host="127.0.0.1", allowed_hosts=None).host_names() == ("localhost", "127.0.0.1", "::1")
    assert Settings(host="0.0.0.0", allowed_hosts=None).host_names() == ("localhost", "127.0.0.1", "::1")
    assert Settings(host="10.1.2.3", allowed_hosts=None).host_names() == ("localhost", "127.0.0.1", "::1",
                                                                           "10.1.2.3")
    assert Settings(host="0.0.0.0", allowed_hosts="nas.example.com").host_names() == ("nas.example.com",)


@pytest.mark.parametrize("key", ["0123456789abcdef" * 4, "nas_short", "nas_" + "x" * 300])
def test_an_admin_key_no_client_could_send_is_a_setting_error(key):
    from nas.settings import SettingsError, get_settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NAS_ADMIN_KEY", key)
        get_settings.cache_clear()
        try:
            with pytest.raises(SettingsError, match="NAS_ADMIN_KEY"):
                get_settings()
        finally:
            get_settings.cache_clear()


def test_a_member_deletes_its_own_finished_search_and_no_other(service):
    client, keys, _ = service
    owner, other, admin = (_headers(keys, caller) for caller in ("owner", "other", "admin"))
    made = [client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 4}, headers=owner).json()["id"]
            for _ in range(2)]
    assert client.delete(f"/api/v1/searches/{made[0]}", headers=owner).status_code == 409  # queued: cancel first
    for search_id in made:
        assert client.post(f"/api/v1/searches/{search_id}/cancel", headers=owner).status_code == 200
    store = client.app.state.store
    store.candidates.add(made[0], [{"arch": "a", "arch_hash": "h" * 64, "scores": {}, "score": 1.0,
                                    "latency_ms": 1.0, "params": 1, "macs": 1, "feasible": True}])
    refused = client.delete(f"/api/v1/searches/{made[0]}", headers=other)
    assert refused.status_code == 403 and "owned by 'alice'" in refused.json()["detail"]
    assert client.delete(f"/api/v1/searches/{made[0]}", headers=owner).status_code == 204
    assert client.get(f"/api/v1/searches/{made[0]}", headers=owner).status_code == 404
    assert client.get(f"/api/v1/searches/{made[0]}/candidates", headers=owner).status_code == 404
    assert client.delete(f"/api/v1/searches/{made[0]}", headers=owner).status_code == 404
    assert client.delete(f"/api/v1/searches/{made[1]}", headers=admin).status_code == 204
    # a batch that ends after the delete stores nothing, and the run ends quietly
    assert store.searches.record(made[0], []) is False
