"""The project installs as one distribution with its data, and `make setup` is idempotent."""

from __future__ import annotations

import shutil
import subprocess
from importlib import metadata, resources
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def test_distribution_declares_the_product_dependencies():
    requires = " ".join(metadata.requires("hwnas") or [])
    for name in ("torch", "optuna", "ray[tune]", "fastapi", "sqlalchemy", "pydantic", "uvicorn"):
        assert name in requires, name
    assert "nas" in {ep.name for ep in metadata.entry_points(group="console_scripts")}


def test_the_lock_pins_every_dependency_within_its_range_and_the_cpu_torch():
    """requirements.lock (``make lock``) pins each requirement of pyproject.toml, dev extra included, at a
    version its range admits; torch is the CPU build, so no CUDA package is pulled in."""
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version)
    assert pins["torch"] == Version("2.13.0+cpu")
    assert not [name for name in pins if name.startswith("nvidia-")]
    for text in metadata.requires("hwnas") or []:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])


def test_latency_tables_is_importable_package_data():
    assert resources.files("latency_tables").is_dir()


@pytest.mark.skipif(
    not (ROOT / ".venv" / ".installed").exists() or shutil.which("make") is None,
    reason="runs after `make setup` (as `make test` does)",
)
def test_make_setup_is_a_no_op_when_nothing_changed():
    result = subprocess.run(["make", "-q", "setup"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, "make setup would run again, though pyproject.toml and the lock are unchanged"


def test_the_cifar10_sample_ships_with_the_package():
    sample = resources.files("nas.datasets").joinpath("cifar10_sample.npz")
    assert sample.is_file()
    assert len(sample.read_bytes()) == 1_555_926  # the byte-for-byte copy named in SOURCES.md
