"""Schemathesis against the service's own OpenAPI document (issue 6: every user mistake is a 4xx, never
a 5xx; an example for every request body). Operations are read from the document, so routes added later
are covered without touching this file; select operations with ``-k``, e.g. ``-k profiles``.

- ``test_no_request_gets_a_server_error``: each operation, request bodies included, gets the document's
  examples, schemathesis's coverage cases (boundaries, wrong types, missing fields) and generated
  requests, valid and invalid; no response may be a 5xx. On SQLite and on PostgreSQL.
- ``test_responses_are_as_documented``: the same requests; statuses, bodies and content types must be
  the documented ones.
- ``test_hostile_values_in_every_parameter_and_field_are_refused_not_a_server_error`` (issue 28): what
  random draws rarely or never make (NaN, Infinity, -Infinity, 2**63, a 5000-digit integer, a lone
  surrogate, a NUL), put deterministically into every path and query parameter, every field of every
  JSON body (its example's at any depth, and each field its schema declares that the example leaves
  out), every cell of a CSV example's first row, and every multipart form field, file and filename,
  whatever the field's type; the unchanged request must get through (else nothing hostile would be
  read); each request must be answered below 500, and
  by a check (not by api.errors' net for a ValueError no check made, which it logs). Schemathesis
  itself cannot send these: its number strategies never draw NaN or Infinity (allow_nan=False in
  schemathesis 4), and requests serialises JSON with allow_nan=False, so the test writes raw bodies.
- ``test_every_request_body_has_an_example``: what /docs shows users to start from.

The app runs without Ray (``run_searches=False``: submitted searches stay queued) on a throwaway
database; schemathesis's in-process ASGI transport runs its lifespan (store opened, shipped devices
registered) before the first request. Generation is seeded and derandomized, so a run is reproducible.
"""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import quote

import numpy as np
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
# "fuzz-device" is a device the fixture registers, so that a profile upload's body is read (the shipped one
# answers 409 before reading it).
EXISTING = {"name": [DEFAULT_DEVICE, "fuzz-device", "cifar10_sample"], "space": ["nasbench201"], "search_id": [1]}


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
    service = create_app(Settings(database_url=url, data_dir=str(folder), max_upload_bytes=64 * 1024,
                                  max_queued_searches=100_000), run_searches=False)
    try:
        with asgi.get_client(service) as client:  # starts the lifespan, which the fuzzed calls then share
            queued = client.post("/api/v1/searches", json={"space": "nasbench201", "budget": 4})
            assert queued.status_code == 202 and queued.json()["id"] == 1, queued.text
            device = client.post("/api/v1/devices", json={"name": "fuzz-device", "hardware": "a test's own"})
            assert device.status_code == 201, device.text
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


# What the fuzzer found reaching the database or a JSON encoder as 500s, and what it never draws: text
# with a NUL (PostgreSQL refuses it), integers past 64 bits (both backends) and of 5000 digits (past
# what Python reads), NaN and the infinities (no JSON encoder writes them back), a lone surrogate (no
# UTF-8 encoder writes it). Each goes, deterministically, into every path and query parameter, every
# field of every JSON body (the example's at any depth, nested objects and list items, and the fields
# its schema declares that the example leaves out), every cell of a CSV
# example's first row, and every multipart form field, file and filename, whatever the field's type.
# Each value as a URL writes it (percent-encoded), as a raw JSON literal (Python's json module reads
# NaN and Infinity) and as CSV or multipart text. A lone
# surrogate in a URL is its UTF-8-ish bytes %ED%A0%80: the client sends the literal "\ud800" as just
# those bytes, so one form covers both.
HOSTILE = {
    "NUL": ("a%00b", '"a\\u0000b"', b"a\x00b"),
    "NaN": ("nan", "NaN", b"NaN"),
    "Infinity": ("inf", "Infinity", b"Infinity"),
    "-Infinity": ("-inf", "-Infinity", b"-Infinity"),
    "2**63": (str(2**63), str(2**63), str(2**63).encode()),
    "5000 digits": ("9" * 5000, "9" * 5000, b"9" * 5000),
    "lone surrogate": ("%ED%A0%80", '"\\ud800"', b"\xed\xa0\x80"),
}
MARK = "\x01hostile\x01"  # where a hostile literal goes in a body's JSON text


def operations() -> list[tuple[str, str, dict]]:
    return [(method, path, operation) for path, methods in DOCUMENT["paths"].items()
            for method, operation in methods.items() if isinstance(operation, dict)]


@dataclass
class Hostile:
    """One request: ``where`` the hostile value is, ``url`` (query included) and the raw body."""

    where: str
    url: str
    body: bytes | None = None
    content_type: str | None = None


def _url(path: str, values: dict[str, str], query: dict[str, str]) -> str:
    """``values`` and ``query`` are URL text already (percent-encoded where need be)."""
    url = path.format(**values)
    return url + ("?" + "&".join(f"{name}={value}" for name, value in query.items()) if query else "")


def _nodes(value, path=()):
    """Every path into a JSON value but the root's: each object member and list item, at any depth. Of
    the items of a list, or the entries of a map (an object whose members are all objects of the same
    fields, such as a profile's entries), the first and the last stand for the rest."""
    if isinstance(value, dict):
        keys = list(value)
        alike = len(keys) > 2 and all(isinstance(v, dict) for v in value.values()) and \
            len({tuple(sorted(v)) for v in value.values()}) == 1
        children = [(key, value[key]) for key in (keys[:1] + keys[-1:] if alike else keys)]
    elif isinstance(value, list):
        children = [(index, value[index]) for index in sorted({0, len(value) - 1}) if value]
    else:
        children = []
    for key, child in children:
        yield (*path, key)
        yield from _nodes(child, (*path, key))


def _replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value.get(path[0]) if isinstance(value, dict) else value[path[0]], path[1:], new)
    return copy


def _unset(example, node: dict, path=()):
    """The paths of the fields ``node``'s schema declares that ``example`` leaves out, at any depth where
    the example holds an object: those a request may send, which no example shows."""
    node = _object_schema(node)
    if not isinstance(example, dict) or node is None:
        return
    for name, field in node.get("properties", {}).items():
        if name not in example:
            yield (*path, name)
        else:
            yield from _unset(example[name], field, (*path, name))


def _object_schema(node: dict) -> dict | None:
    """``node`` resolved, through an optional's anyOf, when it describes an object with fields."""
    node = resolve(node)
    for option in node.get("anyOf", []):
        if _object_schema(option):
            return _object_schema(option)
    return node if node.get("properties") else None


class Bodies:
    """Each media type's example bodies of an operation, as sent unchanged and with each field hostile.
    A top-level ``name`` (of what the request creates) is made new for each request, so that a
    hostile value elsewhere is read rather than answered 409."""

    def __init__(self, media_type: str, media: dict):
        self.media_type, self.media, self.count = media_type, media, 0
        self.examples = body_examples(media)
        self.schema = media.get("schema", {})
        properties = resolve(self.schema).get("properties", {})
        self.files = [name for name, field in properties.items()  # a form's file uploads
                      if field.get("format") == "binary" or "contentMediaType" in field]

    def fresh(self, example):
        self.count += 1
        if isinstance(example, dict) and isinstance(example.get("name"), str):
            return {**example, "name": f"{example['name']}-{self.count}"}
        return example

    def for_device(self, name: str) -> None:
        """A profile names the device it was measured on: the device of the request's path."""
        self.examples = [{**example, "device": {**example["device"], "name": name}}
                         if isinstance(example, dict) and isinstance(example.get("device"), dict) else example
                         for example in self.examples]

    def unchanged(self) -> tuple[bytes, str]:
        example = self.examples[0]
        return self.encode(self.fresh(example) if self.media_type != "text/csv" else example, None, None)

    def hostile(self) -> Iterator[tuple[str, bytes, str]]:
        for example in self.examples:
            if self.media_type == "application/json":
                fields = list(_nodes(example)) + list(_unset(example, self.schema))
            elif self.media_type == "multipart/form-data":
                fields = [(key,) for key in example] + [(key, "filename") for key in self.files]
            elif self.media_type == "text/csv":  # each cell of the first row under the header
                fields = [(1, column) for column in range(len(example.splitlines()[1].split(",")))]
            else:
                raise AssertionError(f"a {self.media_type} body: teach Bodies where its fields are")
            header = example.splitlines()[0].split(",") if self.media_type == "text/csv" else []
            for field in fields:
                for label, (_, literal, text) in HOSTILE.items():
                    where = f"line {field[0] + 1}.{header[field[1]]}" if header else ".".join(map(str, field))
                    yield f"{where} = {label}", *self.encode(example, field, (literal, text))

    def encode(self, example, field, hostile) -> tuple[bytes, str]:
        if self.media_type == "application/json":
            if field is None:
                return json.dumps(example).encode(), self.media_type
            # A top-level name made hostile stays as the example gives it; any other field gets a new name.
            replaced = _replaced(self.fresh(example) if field[:1] != ("name",) else example, field, MARK)
            return json.dumps(replaced).replace(json.dumps(MARK), hostile[0]).encode(), self.media_type
        if self.media_type == "multipart/form-data":
            fields = {key: str(value).encode() for key, value in
                      (example if field == ("name",) else self.fresh(example)).items()}
            files = {key: (fields.pop(key), SMALL_NPZ) for key in self.files}
            if field is not None and field[0] in files:  # a file's content, or its name
                name, content = files[field[0]]
                files[field[0]] = (hostile[1], content) if field[1:] == ("filename",) else (name, hostile[1])
            elif field is not None:
                fields[field[0]] = hostile[1]
            return _multipart(fields, files)
        lines = [line.split(",") for line in example.splitlines()]  # text/csv: as is, or with one cell hostile
        if field is not None:
            lines[field[0]][field[1]] = MARK
        text = "\n".join(",".join(cells) for cells in lines) + "\n"
        return text.encode().replace(MARK.encode(), hostile[1] if field else b""), self.media_type


def _npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, images=np.arange(4 * 8 * 8 * 3, dtype=np.uint8).reshape(4, 8, 8, 3), labels=np.arange(4) % 2)
    return buffer.getvalue()


def _multipart(fields: dict[str, bytes], files: dict[str, tuple[bytes, bytes]]) -> tuple[bytes, str]:
    """A form built by hand: requests would refuse to encode a lone surrogate in a filename."""
    boundary = b"hostile-boundary-7d3f"
    parts = [b'Content-Disposition: form-data; name="%s"\r\n\r\n%s' % (name.encode(), value)
             for name, value in fields.items()]
    parts += [b'Content-Disposition: form-data; name="%s"; filename="%s"\r\n'
              b"Content-Type: application/octet-stream\r\n\r\n%s" % (name.encode(), filename, content)
              for name, (filename, content) in files.items()]
    body = b"".join(b"--%s\r\n%s\r\n" % (boundary, part) for part in parts) + b"--%s--\r\n" % boundary
    return body, f"multipart/form-data; boundary={boundary.decode()}"


SMALL_NPZ = _npz()  # a dataset upload admitted as is, so that its form fields are read


def hostile_requests(client, method: str, path: str, operation: dict) -> Iterator[Hostile]:
    """Each request with one hostile value, known values elsewhere: the path's and query's that let the
    unchanged request through (tried on the app: an existing device, a search space; the measurements
    of a device the service did not ship), so that the hostile value is read, not refused before."""
    parameters = [p for p in operation.get("parameters", []) if p["in"] in ("path", "query")]
    in_path = [p["name"] for p in parameters if p["in"] == "path"]
    in_query = {p["name"]: EXISTING[p["name"]][0] for p in parameters if p["in"] == "query" and p["name"] in EXISTING}
    content = operation.get("requestBody", {}).get("content", {})
    for bodies in [Bodies(kind, media) for kind, media in content.items()] or [None]:
        variants = [({name: quote(str(value), safe="") for name, value in zip(in_path, values)}, query)
                    for values in itertools.product(*[[*EXISTING.get(name, []), f"hostile-{name}"] for name in in_path])
                    for query in ([{}, in_query] if in_query else [{}])]
        known, query, through = *variants[0], False
        for values, query_values in variants:
            if bodies and "name" in values:
                bodies.for_device(values["name"])
            body, kind = bodies.unchanged() if bodies else (None, None)
            response = client.request(method, _url(path, values, query_values), data=body,
                                      headers={"content-type": kind} if kind else {})
            if response.status_code < 300:
                known, query, through = values, query_values, True
                break
        # Else every hostile value would be refused before it is read: the test would prove nothing.
        assert through or not bodies, f"{method.upper()} {path}: no unchanged {bodies.media_type} request got through"
        if bodies and "name" in known:
            bodies.for_device(known["name"])
        for parameter in parameters:
            for label, (text, _, _) in HOSTILE.items():
                body, kind = bodies.unchanged() if bodies else (None, None)
                where = f"{parameter['in']} {parameter['name']} = {label}"
                if parameter["in"] == "path":
                    yield Hostile(where, _url(path, {**known, parameter["name"]: text}, query), body, kind)
                else:
                    yield Hostile(where, _url(path, known, {**query, parameter["name"]: text}), body, kind)
        for where, body, kind in bodies.hostile() if bodies else ():
            yield Hostile(f"body {where}", _url(path, known, query), body, kind)


@pytest.mark.parametrize("method, path, operation", operations(), ids=[f"{m.upper()} {p}" for m, p, _ in operations()])
def test_hostile_values_in_every_parameter_and_field_are_refused_not_a_server_error(app, method, path, operation,
                                                                                    caplog):
    failures = []
    with asgi.get_client(app) as client:
        for case in hostile_requests(client, method, path, operation):
            sent = f"{case.where} ({case.url:.100} {case.body!r:.100})"
            caplog.clear()
            try:
                response = client.request(method, case.url, data=case.body,
                                          headers={"content-type": case.content_type} if case.content_type else {})
            except Exception as error:  # the in-process transport re-raises what the app raised
                failures.append(f"{sent}: the app raised {error!r:.300}")
                continue
            if response.status_code >= 500:
                failures.append(f"{sent}: {response.status_code} {response.text:.300}")
            # api.errors answers a ValueError no check made as a 422, and logs it: a check to add.
            unchecked = [r.getMessage() for r in caplog.records if "unchecked" in r.getMessage()]
            if unchecked:
                failures.append(f"{sent}: {response.status_code}, refused by no check: {unchecked[0]:.200}")
    assert not failures, f"{method.upper()} {path}: {len(failures)} failed\n" + "\n".join(failures)


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
