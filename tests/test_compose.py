"""docker-compose.yml cannot be started here (no Docker engine): check what can be checked. It
parses, has the four services with health checks, and the API's environment is exactly settings
the code reads, with values the settings class accepts and that point at the other services. No
secret is written in it: each comes from .env (its variables are those .env.example lists), compose
refuses to start without them, Ray's token authentication is on for every node, the API requires keys,
and the image runs as a non-root user."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from nas.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:\?|:-)([^}]*))?\}")
SECRETS = ("POSTGRES_PASSWORD", "NAS_ADMIN_KEY", "RAY_AUTH_TOKEN")


def _example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {name.strip(): value.strip() for name, value in pairs}


def _interpolate(text: str, environment: dict[str, str]) -> str:
    """What compose does with ${VAR}, ${VAR:?message} and ${VAR:-default}."""
    def one(match):
        name, operator, rest = match.groups()
        value = environment.get(name, "")
        if value:
            return value
        if operator == ":?":
            raise LookupError(f"{name} is required: {rest}")
        return rest if operator == ":-" else ""
    return VARIABLE.sub(one, text)


@pytest.fixture(scope="module")
def filled() -> dict[str, str]:
    """.env.example with each secret filled in as its comment says to generate it."""
    return _example() | {"POSTGRES_PASSWORD": secrets.token_hex(24),
                         "NAS_ADMIN_KEY": "nas_" + secrets.token_urlsafe(32),
                         "RAY_AUTH_TOKEN": secrets.token_hex(32)}


@pytest.fixture(scope="module")
def compose(filled):
    return yaml.safe_load(_interpolate((ROOT / "docker-compose.yml").read_text(), filled))


def test_services_and_health_checks(compose):
    services = compose["services"]
    assert set(services) == {"api", "postgres", "ray-head", "ray-worker"}
    for name in ("api", "postgres", "ray-head"):
        assert services[name]["healthcheck"]["test"], name
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "--head" in services["ray-head"]["command"]
    assert "ray-head:6379" in services["ray-worker"]["command"]
    assert "ray start --address=ray-head:6379" in services["api"]["command"]  # the driver's own raylet
    assert services["ray-worker"]["deploy"]["replicas"] >= 1  # scalable with --scale ray-worker=N
    for name in ("api", "ray-head", "ray-worker"):
        environment = services[name]["environment"]
        assert environment["RAY_AUTH_MODE"] == "token", name
        assert len(environment["RAY_AUTH_TOKEN"]) == 64, name
    tokens = {services[name]["environment"]["RAY_AUTH_TOKEN"] for name in ("api", "ray-head", "ray-worker")}
    assert len(tokens) == 1, "every node of the cluster presents the same token"


def test_api_environment_is_read_by_the_settings_class(compose, monkeypatch):
    environment = compose["services"]["api"]["environment"]
    readable = {"DATABASE_URL", "RAY_ADDRESS"} | {f"NAS_{name.upper()}" for name in Settings.model_fields}
    readable |= {"RAY_AUTH_MODE", "RAY_AUTH_TOKEN"}  # read by Ray itself, the same on every node of the file
    assert set(environment) <= readable, set(environment) - readable
    for name in list(__import__("os").environ):
        if name.startswith("NAS_") or name in ("DATABASE_URL", "RAY_ADDRESS"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))
    settings = Settings()
    assert settings.ray_address == "ray-head:6379"
    assert settings.auth_mode() == "required" and not settings.on_loopback()
    assert settings.admin_key is not None and "localhost" in settings.host_names()
    assert settings.max_concurrent_searches == int(environment["NAS_MAX_CONCURRENT_SEARCHES"])
    url = make_url(settings.database_url)
    postgres = compose["services"]["postgres"]["environment"]
    assert (url.host, url.username, url.password, url.database) == (
        "postgres", postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"])


def test_the_image_installs_the_cpu_torch_and_the_project():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "torch==2.13.0" in dockerfile and "download.pytorch.org/whl/cpu" in dockerfile
    for package in ("nas", "searchspaces", "latency_tables", "api", "workers"):
        assert f"COPY {package} {package}" in dockerfile


def test_no_secret_is_written_in_the_file_and_each_comes_from_the_environment():
    text = (ROOT / "docker-compose.yml").read_text()
    used = {match.group(1) for match in VARIABLE.finditer(text)}
    assert used <= set(_example()), f"not in .env.example: {used - set(_example())}"
    assert set(SECRETS) <= used
    for name in SECRETS:
        assert _example()[name] == "", f".env.example must not carry a value for {name}"
        with pytest.raises(LookupError, match=name):  # compose refuses to start without it
            _interpolate(text, _example() | {other: "x" * 40 for other in SECRETS if other != name})
    services = yaml.safe_load(text)["services"]
    for service in services.values():
        for name, value in (service.get("environment") or {}).items():
            if any(word in name for word in ("PASSWORD", "KEY", "TOKEN")):
                assert str(value).startswith("${"), f"{name} is written in the file"
    assert "POSTGRES_PASSWORD:?" in services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert "${POSTGRES_PASSWORD" in services["api"]["environment"]["DATABASE_URL"]
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert ".env" in (ROOT / ".dockerignore").read_text().split()


def test_the_api_requires_keys_and_is_published_on_loopback_only(compose):
    api = compose["services"]["api"]
    assert api["environment"]["NAS_AUTH"] == "required"
    assert all(str(port).startswith("127.0.0.1:") for port in api["ports"])


def test_the_image_runs_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), users
    assert dockerfile.rindex("USER") > dockerfile.rindex("RUN pip install")  # installed as root, run as the user
