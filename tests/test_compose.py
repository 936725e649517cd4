"""docker-compose.yml cannot be started here (no Docker engine): check what can be checked. It
parses, has the four services with health checks, and the API's environment is exactly settings
the code reads, with values the settings class accepts and that point at the other services."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from nas.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


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
    modes = {services[name]["environment"]["RAY_AUTH_MODE"] for name in ("api", "ray-head", "ray-worker")}
    assert modes == {"disabled"}, "every node of the cluster needs the same authentication mode"


def test_api_environment_is_read_by_the_settings_class(compose, monkeypatch):
    environment = compose["services"]["api"]["environment"]
    readable = {"DATABASE_URL", "RAY_ADDRESS"} | {f"NAS_{name.upper()}" for name in Settings.model_fields}
    readable.add("RAY_AUTH_MODE")  # read by Ray itself, the same on every node of the file
    assert set(environment) <= readable, set(environment) - readable
    for name in list(__import__("os").environ):
        if name.startswith("NAS_") or name in ("DATABASE_URL", "RAY_ADDRESS"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))
    settings = Settings()
    assert settings.ray_address == "ray-head:6379"
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
