"""The shipped Alembic migrations build the schema the models describe, on both backends."""

from __future__ import annotations

import json
from importlib import resources

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from nas.storage import Store, open_store
from nas.storage.engine import alembic_config, make_engine, resolve_url
from nas.storage.models import Base

TABLES = {"api_keys", "devices", "latency_profiles", "searches", "candidates", "proxy_score_cache", "latency_cache",
          "datasets", "alembic_version"}


def test_upgrade_from_empty_creates_every_table_at_head(database_url):
    with Store(database_url) as store:
        assert store.revision() is None
        assert not inspect(store._engine).get_table_names()
        store.upgrade()
        assert set(inspect(store._engine).get_table_names()) == TABLES
        assert store.revision() == Store.head_revision() == "0007"


def test_upgrade_twice_is_a_no_op(database_url):
    with open_store(database_url) as store:
        store.devices.add("pi4", hardware="Raspberry Pi 4")
        store.upgrade()
        assert store.revision() == Store.head_revision()
        assert [d.name for d in store.devices.list()] == ["pi4"]
    with open_store(database_url) as again:  # a second process starting on the same database
        assert [d.name for d in again.devices.list()] == ["pi4"]


def test_the_migrated_schema_matches_the_models(database_url):
    with open_store(database_url) as store, store._engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_and_back(database_url):
    url = resolve_url(database_url)
    engine = make_engine(url)
    config = alembic_config(url)  # the URL path of env.py, as the alembic command line would use it
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert set(inspect(engine).get_table_names()) == TABLES
    engine.dispose()


def test_upgrading_a_first_revision_database_keeps_its_rows(database_url):
    url = resolve_url(database_url)
    config = alembic_config(url)
    command.upgrade(config, "0001")
    engine = make_engine(url)
    assert "datasets" not in inspect(engine).get_table_names()
    engine.dispose()
    with open_store(database_url) as store:  # what a service upgraded in place does at start-up
        assert store.revision() == Store.head_revision()
    with Store(database_url) as store:
        store.devices.add("pi4")
        command.downgrade(config, "0001")
        command.upgrade(config, "head")
        assert [d.name for d in store.devices.list()] == ["pi4"]


def test_the_migrations_ship_inside_the_package():
    folder = resources.files("nas.storage.migrations")
    for name in ("env.py", "script.py.mako"):
        assert folder.joinpath(name).is_file(), name
    for name in ("0001_initial.py", "0002_datasets.py", "0003_candidates_front_index.py", "0004_macs.py",
                 "0005_dataset_statistics.py", "0006_keys_and_owners.py",
                 "0007_default_proxy.py"):
        assert folder.joinpath("versions", name).is_file(), name


def test_the_macs_rename_keeps_every_value_both_ways(database_url):
    """0004 renames the multiply-add count (flops -> macs) in the column, the scores and the stored
    requests; going down and up again gives back what was stored."""
    url = resolve_url(database_url)
    config = alembic_config(url)
    request = {"space": "nasbench201", "macs_max": 5_000_000, "ensemble": ["synflow", "macs"],
               "objectives": ["macs"]}
    with open_store(database_url) as store:
        store.devices.add("pi4")
        search = store.searches.create(request, space="nasbench201", device="pi4", profile_id=None,
                                       strategy="nsga2", budget=1, seed=None)
        row = {"arch": "a", "arch_hash": "h", "scores": {"synflow": 1.5, "params": 10, "macs": 7},
               "score": 1.5, "latency_ms": 2.0, "params": 10, "macs": 7, "feasible": True}
        store.candidates.add(search.id, [row])
        store.caches.put_scores("nasbench201", "k", {"h": {"macs": 7.0}})
        command.downgrade(config, "0003")
        engine = make_engine(url)
        with engine.connect() as connection:
            [(flops, scores)] = connection.execute(text("SELECT flops, scores FROM candidates")).all()
            [(old,)] = connection.execute(text("SELECT request FROM searches")).all()
            cached = connection.execute(text("SELECT count(*) FROM proxy_score_cache")).scalar_one()
        engine.dispose()
        assert flops == 7 and _json(scores) == {"synflow": 1.5, "params": 10, "flops": 7} and cached == 0
        assert _json(old) == {"space": "nasbench201", "flops_max": 5_000_000,
                                   "ensemble": ["synflow", "flops"], "objectives": ["flops"]}
        command.upgrade(config, "head")
        [stored] = store.candidates.list(search.id)
        assert (stored.macs, stored.scores) == (7, row["scores"])
        assert store.searches.get(search.id).request == request


def _json(value):
    return value if isinstance(value, dict) else json.loads(value)  # PostgreSQL's driver decodes JSON itself


def test_searches_that_named_no_proxy_keep_synflow_the_default_they_ran_with(database_url):
    """0007: the default proxy became meco; a stored request that named neither proxy nor ensemble
    ran with synflow and now names it, so a resumed search scores as it began."""
    url = resolve_url(database_url)
    config = alembic_config(url)
    requests = [{"space": "nasbench201", "proxy": None, "ensemble": None}, {"space": "nasbench201"},
                {"space": "nasbench201", "proxy": "snip"}, {"space": "nasbench201", "ensemble": ["meco", "swap"]}]
    with open_store(database_url) as store:
        store.devices.add("pi4")
        ids = [store.searches.create(r, space="nasbench201", device="pi4", profile_id=None, strategy="tpe",
                                     budget=1, seed=None).id for r in requests]
        command.downgrade(config, "0006")
        command.upgrade(config, "head")
        stored = [store.searches.get(i).request for i in ids]
    assert stored == [{"space": "nasbench201", "proxy": "synflow", "ensemble": None},
                      {"space": "nasbench201", "proxy": "synflow"}, requests[2], requests[3]]
