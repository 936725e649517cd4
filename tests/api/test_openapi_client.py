"""A client generated from /openapi.json (issue 28): stable operationIds, named enums, date-times, a
binary ONNX download; and a client generated with openapi-python-client running submit -> poll -> front
-> ONNX download through the service.

openapi-python-client is not in the dev extra: it pins ``httpx<0.29``, below the lock's httpx. It runs
from a virtual environment of its own, made once under ``~/.cache/hwnas/`` from PyPI; the client
it writes needs only httpx, attrs and python-dateutil, which the project's environment has.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from nas.settings import Settings

GENERATOR = "openapi-python-client==0.29.1"
# Kept in the user's cache (as pip keeps its downloads), so a fresh clone does not install it again.
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
GENERATOR_ENV = CACHE / "hwnas" / "openapi-python-client" / GENERATOR.split("==")[1]
PACKAGE = "hwnas_client"

OPERATIONS = {
    ("get", "/api/v1/health"): "getHealth",
    ("get", "/api/v1/spaces"): "listSpaces",
    ("get", "/api/v1/spaces/{space}"): "getSpace",
    ("get", "/api/v1/proxies"): "listProxies",
    ("get", "/api/v1/candidates/{candidate_id}"): "getCandidate",
    ("get", "/api/v1/keys"): "listKeys",
    ("get", "/api/v1/keys/me"): "getCurrentKey",
    ("post", "/api/v1/keys"): "createKey",
    ("delete", "/api/v1/keys/{name}"): "revokeKey",
    ("get", "/api/v1/devices"): "listDevices",
    ("post", "/api/v1/devices"): "createDevice",
    ("get", "/api/v1/devices/{name}"): "getDevice",
    ("get", "/api/v1/devices/{name}/profiles"): "listProfiles",
    ("post", "/api/v1/devices/{name}/profiles"): "uploadProfile",
    ("post", "/api/v1/devices/{name}/measurements"): "fitMeasurements",
    ("post", "/api/v1/searches"): "submitSearch",
    ("get", "/api/v1/searches"): "listSearches",
    ("get", "/api/v1/searches/{search_id}"): "getSearch",
    ("post", "/api/v1/searches/{search_id}/cancel"): "cancelSearch",
    ("delete", "/api/v1/searches/{search_id}"): "deleteSearch",
    ("get", "/api/v1/searches/{search_id}/candidates"): "listCandidates",
    ("get", "/api/v1/searches/{search_id}/plot"): "getSearchPlot",
    ("get", "/api/v1/searches/{search_id}/pareto"): "getParetoFront",
    ("get", "/api/v1/datasets"): "listDatasets",
    ("post", "/api/v1/datasets"): "uploadDataset",
    ("get", "/api/v1/datasets/{name}"): "getDataset",
    ("get", "/api/v1/candidates/{candidate_id}/model.onnx"): "downloadCandidateOnnx",
    ("get", "/api/v1/candidates/{candidate_id}/architecture"): "getCandidateArchitecture",
    ("get", "/api/v1/candidates/{candidate_id}/model"): "getCandidateModel",
}


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict:
    data = tmp_path_factory.mktemp("openapi")
    app = create_app(Settings(database_url=f"sqlite:///{data / 'nas.db'}", data_dir=str(data)), run_searches=False)
    return app.openapi()


def test_every_operation_has_its_short_stable_camel_case_id(document):
    found = {(method, path): operation["operationId"] for path, operations in document["paths"].items()
             for method, operation in operations.items() if path.startswith("/api/")}
    assert found == OPERATIONS
    assert len(set(found.values())) == len(found)
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", name) for name in found.values())


def test_closed_sets_are_named_enums_and_times_are_date_times(document):
    schemas = document["components"]["schemas"]
    assert schemas["SearchStatus"]["enum"] == ["queued", "running", "succeeded", "failed", "cancelled"]
    assert set(schemas["Strategy"]["enum"]) == {"random", "evolution", "nsga2", "tpe"}
    assert schemas["ModelFormat"]["enum"] == ["onnx", "json"]
    search = schemas["SearchOut"]["properties"]
    assert search["status"] == {"$ref": "#/components/schemas/SearchStatus"}
    assert search["strategy"] == {"$ref": "#/components/schemas/Strategy"}
    assert schemas["SearchRequest"]["properties"]["strategy"]["$ref"] == "#/components/schemas/Strategy"
    assert search["created_at"]["format"] == "date-time"
    assert {"type": "string", "format": "date-time"}.items() <= search["finished_at"]["anyOf"][0].items()
    assert schemas["CandidateOut"]["properties"]["links"] == {
        "$ref": "#/components/schemas/CandidateLinks",
        "description": schemas["CandidateOut"]["properties"]["links"]["description"]}
    assert set(schemas["CandidateLinks"]["required"]) == {"onnx", "json"}
    sort = next(p for p in document["paths"]["/api/v1/searches/{search_id}/candidates"]["get"]["parameters"]
                if p["name"] == "sort")
    assert sort["schema"]["$ref"] == "#/components/schemas/CandidateSort"
    # a space's size may pass 2**53 (shufflenetv2 has 40**20 candidates): a decimal string
    assert schemas["SpaceSummary"]["properties"]["size"]["type"] == "string"


def test_the_onnx_download_is_only_binary_and_errors_are_declared(document):
    responses = document["paths"]["/api/v1/candidates/{candidate_id}/model.onnx"]["get"]["responses"]
    assert responses["200"]["content"] == {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    assert set(responses["404"]["content"]) == {"application/json"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items() if path.startswith("/api/") else ():
            assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorOut"}, (method, path)
            if method == "post":
                assert "413" in operation["responses"], path


def test_uploaded_documents_have_named_schemas_not_inline_ones(document):
    schemas = document["components"]["schemas"]
    profile = document["paths"]["/api/v1/devices/{name}/profiles"]["post"]["requestBody"]["content"]["application/json"]
    assert profile["schema"] == {"$ref": "#/components/schemas/Profile"}
    assert {"Profile", "ProfileEntry", "ProfileDeviceInfo", "MeasurementsIn", "MeasurementIn"} <= set(schemas)
    assert not [name for name in schemas if "ApiV1" in name or name.startswith("Body_upload_")]
    unresolved = {ref for ref in re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document))
                  if ref not in schemas}
    assert not unresolved


# -- a generated client -----------------------------------------------------------------------------


def generator() -> Path:
    """The generator's command, installed once into its own virtual environment."""
    command, installed = GENERATOR_ENV / "bin" / "openapi-python-client", GENERATOR_ENV / "installed"
    if installed.exists():
        return command
    shutil.rmtree(GENERATOR_ENV, ignore_errors=True)  # what an interrupted install left
    subprocess.run([sys.executable, "-m", "venv", str(GENERATOR_ENV)], check=True, timeout=120)
    result = subprocess.run([str(GENERATOR_ENV / "bin" / "pip"), "install", "--quiet", GENERATOR], check=False,
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail(f"could not install {GENERATOR} from PyPI into {GENERATOR_ENV}:\n{result.stderr[-3000:]}",
                    pytrace=False)
    installed.touch()
    return command


@pytest.fixture
def generated(tmp_path, monkeypatch):
    """The client package openapi-python-client writes from ``document`` (a function of it)."""

    def generate(document: dict):
        (tmp_path / "openapi.json").write_text(json.dumps(document))
        (tmp_path / "config.yaml").write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n")
        result = subprocess.run(
            [str(generator()), "generate", "--path", "openapi.json", "--output-path", PACKAGE, "--meta", "none",
             "--config", "config.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        # The one warning allowed: the measurements' CSV body, a second content type a client may skip.
        output = result.stdout + result.stderr
        warnings = [line for line in output.splitlines() if line.startswith("WARNING")]
        assert warnings == ["WARNING parsing POST /api/v1/devices/{name}/measurements within devices."], output
        monkeypatch.syspath_prepend(str(tmp_path))
        return __import__(PACKAGE)

    yield generate
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
        del sys.modules[name]


@pytest.mark.backends("sqlite")
def test_a_generated_client_submits_polls_reads_the_front_and_downloads_onnx(database_url, tmp_path, local_ray,
                                                                             generated):
    settings = Settings(database_url=database_url, data_dir=str(tmp_path / "data"), max_concurrent_searches=1)
    with TestClient(create_app(settings)) as service:
        package = generated(service.get("/openapi.json").json())
        from hwnas_client.api.candidates import download_candidate_onnx
        from hwnas_client.api.searches import (
            get_pareto_front,
            get_search,
            list_candidates,
            submit_search,
        )
        from hwnas_client.models import (
            CandidateSort,
            SearchOut,
            SearchRequest,
            SearchStatus,
            Strategy,
        )

        client = package.Client(base_url=str(service.base_url), raise_on_unexpected_status=True)
        client.set_httpx_client(service)  # the app in this process, over the test client's transport

        submitted = submit_search.sync(client=client, body=SearchRequest(space="nasbench201", budget=4, seed=1))
        assert isinstance(submitted, SearchOut), submitted
        assert submitted.status is SearchStatus.QUEUED and submitted.strategy is Strategy.TPE
        assert isinstance(submitted.created_at, datetime) and submitted.created_at.utcoffset().total_seconds() == 0

        deadline = time.monotonic() + 120
        search = submitted
        while search.status in (SearchStatus.QUEUED, SearchStatus.RUNNING) and time.monotonic() < deadline:
            time.sleep(0.2)
            search = get_search.sync(search_id=submitted.id, client=client)
        assert search.status is SearchStatus.SUCCEEDED, search.error
        assert search.evaluated == 4 and search.finished_at >= search.started_at >= search.created_at
        stored = service.app.state.store.searches.get(search.id)  # on the wire as before: isoformat, +00:00
        assert service.get(f"/api/v1/searches/{search.id}").json()["created_at"] == stored.created_at.isoformat()

        front = get_pareto_front.sync(search_id=search.id, client=client)
        assert len(front) == search.front_size > 0
        page = list_candidates.sync(search_id=search.id, client=client, sort=CandidateSort.LATENCY_MS, descending=False)
        assert page.total == 4 and [c.latency_ms for c in page.items] == sorted(c.latency_ms for c in page.items)

        best = front[0]
        assert best.links.onnx == f"/api/v1/candidates/{best.id}/model.onnx"
        download = download_candidate_onnx.sync_detailed(candidate_id=best.id, client=client)
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/octet-stream"
        model = ort.InferenceSession(download.parsed.payload.read(), providers=["CPUExecutionProvider"])
        logits = model.run(None, {"input": np.zeros((2, 3, 32, 32), dtype=np.float32)})[0]
        assert logits.shape == (2, 10)
