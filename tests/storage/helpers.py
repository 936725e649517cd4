"""Small builders the storage tests share."""

from __future__ import annotations

import nas.latency as latency
from nas.storage import SearchRecord, Store
from tests.latency.conftest import synthetic_document

REQUEST = {"space": "nasbench201", "objectives": ["synflow", "latency"], "constraints": {"latency_ms": 5.0}}


def synthetic_profile(**changes) -> latency.Profile:
    """The latency tests' synthetic NAS-Bench-201 profile, with top-level fields replaced."""
    document = synthetic_document()
    document.update(changes)
    return latency.validate_profile(document)


def new_search(store: Store, profile_id: int | None, **changes) -> SearchRecord:
    options = dict(space="nasbench201", device="pi4", profile_id=profile_id, strategy="evolution",
                   budget=50, seed=7)
    options.update(changes)
    return store.searches.create(REQUEST, **options)
