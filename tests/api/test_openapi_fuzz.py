"""Schemathesis against the service's own OpenAPI document (issue 6: every user mistake is a 4xx, never
a 5xx; an example for every request body). Operations are read from the document, so routes added later
are covered without touching this file; select operations with ``-k``, e.g. ``-k profiles``.

- ``test_no_request_gets_a_server_error``: each operation, request bodies included, gets the document's
  examples, schemathesis's coverage cases (boundaries, wrong types, missing fields) and generated
  requests, valid and invalid; no response may be a 5xx. On SQLite and on PostgreSQL.
- ``test_responses_are_as_documented``: the same requests; statuses, bodies and content types must be
  the documented ones.
- ``test_nul_characters_and_huge_integers_are_refused_not_a_server_error``: the two kinds of value the
  fuzzer found crashing the database layer, put deterministically into every parameter and body field.
- ``test_every_request_body_has_an_example``: what /docs shows users to start from.

The app runs without Ray (``run_searches=False``: submitted searches stay queued) on a throwaway
database; schemathesis's in-process ASGI transport runs its lifespan (store opened, shipped devices
registered) before the first request. Generation is seeded and derandomized, so a run is reproducible.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python import asgi

from api.main import create_app
from nas.latency import DEFAULT_DEVICE
from nas.settings import Settings
from tests.conftest import BACKENDS

# Building the app only declares its routes; nothing connects before its lifespan runs.
DOCUMENT = create_app(run_searches=False).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict({"seed": 6}))

# Path parameters that name something the fixture's database holds: without them nearly every generated
# name or id is a 404, and a body sent to an unknown resource is never read.
EXISTING = {"name": [DEFAULT_DEVICE, "cifar10_sample"], "space": ["nasbench201"], "search_id": [1]}


def status_code_is_documented(ctx, response, case):
    # FastAPI itself answers 400 to a body it cannot parse (not UTF-8, broken multipart) on every route
    # with one, undocumented; the routes never choose 400, so only the statuses they choose are held.
    operation = DOCUMENT["paths"][case.operation.path][case.operation.method.lower()]
    if response.status_code == 400 and "requestBody" in operation:
        return None
    return status_code_conformance(ctx, response, case)


# Beyond no 5xx: a status, schema and content type the document declares. A separate test, so that a
# gap in the document cannot hide a server error behind it. Not held here: schemathesis's "invalid data
# accepted", since its invalid cases are often valid requests: FastAPI ignores query parameters a route
# does not declare (as most web services do), and the hook above turns generated ids into real ones.
# The routes' own refusals are tested case by case (tests/api/test_*.py).
CONFORMANCE = [status_code_is_documented, response_schema_conformance, content_type_conformance]


@schema.hook
def flatmap_path_parameters(context, parameters):
    known = [{**parameters, name: value} for name in EXISTING if name in (parameters or {})
             for value in EXISTING[name]]
    return st.sampled_from([parameters, *known]) if known else st.just(parameters)


@pytest.fixture(scope="module", params=BACKENDS)
def app(request, tmp_path_factory):
    """The service on a fresh database of each backend (PostgreSQL refuses what SQLite stores: NUL
    characters, integers past 64 bits), shared by every operation's test on that backend."""
    folder = tmp_path_factory.mktemp("fuzz")
    cluster = request.getfixturevalue("postgres") if request.param == "postgresql" else None
    database = cluster.new_database() if cluster else None
    url = cluster.url(database) if cluster else f"sqlite:///{folder / 'nas.db'}"
    service = create_app(Settings(database_url=url, data_dir=str(folder), max_upload_bytes=64 * 1024),
                         run_searches=False)
    try:
        with asgi.get_client(service) as client:  # starts the lifespan, which the fuzzed calls then share
            queued = client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 4})
            assert queued.status_code == 202 and queued.json()["id"] == 1, queued.text
        yield service
    finally:
        asgi.shutdown_lifespans()
        if cluster:
            cluster.admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


FUZZ = settings(max_examples=30, derandomize=True, database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


@schema.parametrize()
@FUZZ
def test_no_request_gets_a_server_error(case, app):
    case.call_and_validate(app=app, checks=[not_a_server_error])


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)  # the document is the same on every backend
@schema.parametrize()
@FUZZ
def test_responses_are_as_documented(case, app):
    case.call_and_validate(app=app, checks=CONFORMANCE)


# What the fuzzer found reaching the database as 500s: text with a NUL (PostgreSQL refuses it) and
# integers past 64 bits (both backends). Rare in random draws, so every parameter and every top-level
# field of every body example gets them deterministically too.
HOSTILE = {"string": "a\x00b", "integer": 2**63}


def operations() -> list[tuple[str, str, dict]]:
    return [(method, path, operation) for path, methods in DOCUMENT["paths"].items()
            for method, operation in methods.items() if isinstance(operation, dict)]


def hostile_requests(path: str, operation: dict) -> list[tuple[str, dict, object]]:
    """(url, query, json body) triples, each with one hostile value and known values elsewhere."""
    parameters = [p for p in operation.get("parameters", []) if p["in"] in ("path", "query")]
    known = {p["name"]: EXISTING.get(p["name"], ["x"])[0] for p in parameters if p["in"] == "path"}

    def url(values: dict) -> str:
        return path.format(**{name: quote(str(value), safe="") for name, value in values.items()})

    found = []
    for parameter in parameters:
        kinds = {s.get("type") for s in parameter["schema"].get("anyOf", [parameter["schema"]])}
        for kind in kinds & HOSTILE.keys():
            if parameter["in"] == "path":
                found.append((url({**known, parameter["name"]: HOSTILE[kind]}), {}, None))
            else:
                found.append((url(known), {parameter["name"]: HOSTILE[kind]}, None))
    media = operation.get("requestBody", {}).get("content", {}).get("application/json")
    for example in body_examples(media) if media else []:
        for field, value in example.items():
            kind = {str: "string", int: "integer"}.get(type(value))
            if kind:
                found.append((url(known), {}, {**example, field: HOSTILE[kind]}))
    return found


@pytest.mark.parametrize("method, path, operation", operations(), ids=[f"{m.upper()} {p}" for m, p, _ in operations()])
def test_nul_characters_and_huge_integers_are_refused_not_a_server_error(app, method, path, operation):
    with asgi.get_client(app) as client:
        for url, query, body in hostile_requests(path, operation):
            sent = f"{method.upper()} {url} {query} {body!r:.200}"
            try:
                response = client.request(method, url, params=query, json=body)
            except Exception as error:  # the in-process transport re-raises what the app raised
                raise AssertionError(f"{sent}: the app raised {error!r:.500}") from error
            assert response.status_code < 500, f"{sent}: {response.status_code} {response.text:.200}"


def body_examples(media: dict) -> list:
    """The examples of a request body: the media type's, else its schema's."""
    if media.get("example") is not None:
        return [media["example"]]
    if media.get("examples"):
        return [example.get("value") for example in media["examples"].values()]
    body_schema = resolve(media.get("schema", {}))
    return list(body_schema.get("examples") or ([body_schema["example"]] if "example" in body_schema else []))


def operations_with_bodies() -> list[tuple[str, dict]]:
    return [(f"{method.upper()} {path}", operation["requestBody"])
            for path, methods in DOCUMENT["paths"].items() for method, operation in methods.items()
            if isinstance(operation, dict) and "requestBody" in operation]


def resolve(node: dict) -> dict:
    while "$ref" in node:
        target = DOCUMENT
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_the_document_has_operations_with_bodies():
    assert {"POST /api/v1/devices", "POST /api/v1/devices/{name}/profiles", "POST /api/v1/searches"} <= {
        label for label, _ in operations_with_bodies()}


@pytest.mark.parametrize("label, body", operations_with_bodies(), ids=[label for label, _ in operations_with_bodies()])
def test_every_request_body_has_an_example(label, body):
    lacking = [media_type for media_type, media in body["content"].items() if not body_examples(media)]
    assert not lacking, f"{label}: no example for {', '.join(lacking)} (give the model json_schema_extra examples, " \
                        "or openapi_extra a media example)"
