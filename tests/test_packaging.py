"""The project installs as one distribution with its data, and `make setup` is idempotent."""

from __future__ import annotations

import shutil
import subprocess
from importlib import metadata, resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_distribution_declares_the_product_dependencies():
    requires = " ".join(metadata.requires("hwnas") or [])
    for name in ("torch", "optuna", "ray[tune]", "fastapi", "sqlalchemy", "pydantic", "uvicorn"):
        assert name in requires, name
    assert "nas" in {ep.name for ep in metadata.entry_points(group="console_scripts")}


def test_latency_tables_is_importable_package_data():
    assert resources.files("latency_tables").is_dir()


@pytest.mark.skipif(
    not (ROOT / ".venv" / ".installed").exists() or shutil.which("make") is None,
    reason="runs after `make setup` (as `make test` does)",
)
def test_make_setup_is_a_no_op_when_nothing_changed():
    result = subprocess.run(["make", "-q", "setup"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, "make setup would run again although pyproject.toml is unchanged"


def test_the_cifar10_sample_ships_with_the_package():
    sample = resources.files("nas.datasets").joinpath("cifar10_sample.npz")
    assert sample.is_file()
    assert len(sample.read_bytes()) == 1_555_926  # the byte-for-byte copy named in SOURCES.md
