"""A synthetic but complete NAS-Bench-201 profile, built in memory, for the format and predictor."""

from __future__ import annotations

import copy

import pytest

import searchspaces
from nas.latency import SCHEMA_VERSION


def synthetic_document() -> dict:
    space = searchspaces.get("nasbench201")
    keys = sorted(space.all_blocks())
    entries = {
        key: {"p50": 0.1 + 0.01 * i, "mean": 0.12 + 0.01 * i, "std": 0.01, "min": 0.09 + 0.01 * i,
              "count": 60}
        for i, key in enumerate(keys)
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "device": {"name": "test-cpu", "hardware": "x86_64, 2 cores", "runtime": "torch",
                   "runtime_version": "2.13.0", "threads": 1, "batch_size": 1, "precision": "fp32"},
        "measurement": {"warmup": 5, "repeats": 60, "rounds": 3, "statistic": "p50", "unit": "ms",
                        "measured_at": "2026-11-23T10:00:00Z", "tool": "test"},
        "search_space": "nasbench201", "resolutions": [32], "num_classes": 10,
        "entries": entries, "overhead_ms": 0.05,
        "calibration": {"a": 1.25, "b": 0.5, "fit_on": 30},
        "validation": {"n": 30, "mape": 0.05, "within_10pct": 0.9, "spearman": 0.95, "max_ape": 0.2},
    }


@pytest.fixture
def document() -> dict:
    return copy.deepcopy(synthetic_document())
