"""The ASGI app: ``uvicorn api.main:app`` (what ``nas serve`` runs)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api import auth, browser, dashboard, errors
from api.limits import BodySizeLimit
from api.routes import (
    candidates,
    datasets,
    devices,
    health,
    keys,
    proxies,
    searches,
    spaces,
)
from nas import __version__
from nas.export_cache import ExportCache
from nas.settings import Settings, get_settings
from nas.storage import Store, open_store
from nas.storage.here import ensure_local_device

API = "/api/v1"
BOOTSTRAP_KEY = "admin"
log = logging.getLogger("nas.api")


def create_app(settings: Settings | None = None, run_searches: bool = True) -> FastAPI:
    """The app; ``settings`` default to the environment's (``NAS_*``, ``DATABASE_URL``,
    ``RAY_ADDRESS``). ``run_searches=False`` serves without Ray: searches stay queued."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings or get_settings()
        # Migrates the database to head and registers the shipped devices before the first request.
        app.state.store = open_store(app.state.settings.database_url)
        app.state.store.devices.ensure_shipped()
        _bootstrap_key(app.state.settings, app.state.store)
        ensure_local_device(app.state.store)  # this machine's own device, where its CPU has no shipped table
        app.state.exports = exports(app.state.settings)
        app.state.ray = app.state.dispatcher = None
        dispatcher = None
        if run_searches:
            from workers import Dispatcher, init_ray

            app.state.ray = init_ray(app.state.settings.ray_address)
            dispatcher = Dispatcher(app.state.store, app.state.settings.max_concurrent_searches)
            dispatcher.start()
            app.state.dispatcher = dispatcher
        try:
            yield
        finally:
            if dispatcher is not None:
                dispatcher.stop()
            app.state.store.close()

    app = FastAPI(
        title="Hardware-aware NAS",
        version=__version__,
        description="Search small vision networks under a device latency budget.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # served by api.browser, with the assets shipped here
        redoc_url=None,
    )
    routers = [module.router for module in (health, spaces, proxies, devices, searches, datasets, candidates, keys)]
    for router in routers:
        app.include_router(router, prefix=API)
    rules = auth.check_rules(routers, API)
    # The pages, then /static: the router's /static/plotly.min.js (the vendored bundle, cached) comes first.
    app.include_router(dashboard.router)
    app.mount("/static", dashboard.static_files(), name="static")
    app.add_middleware(BodySizeLimit)
    browser.install(app)
    errors.install(app)
    _complete_document(app, devices.BODY_SCHEMAS, rules)
    return app


def _bootstrap_key(settings: Settings, store: Store) -> None:
    """NAS_ADMIN_KEY: the admin key named ``admin``, registered (or put back) at every start; and a
    warning where the service answers beyond loopback with no key needed."""
    if settings.admin_key is not None:
        store.keys.ensure(BOOTSTRAP_KEY, "admin", settings.admin_key.get_secret_value())
    if settings.auth_mode() == "off" and not settings.on_loopback():
        log.warning("NAS_AUTH=off on %s: anyone who reaches the port may do everything", settings.host)


def exports(settings: Settings) -> ExportCache:
    return ExportCache(Path(settings.data_dir) / "exports", max_bytes=settings.export_cache_mb * 2**20,
                       max_params=settings.max_export_params)


def _operation_id(route: APIRoute) -> str:
    """Every /api/v1 route names its operationId (a generated client's function names, which must not
    change when a Python function is renamed); a route that does not gets its function's name in camelCase."""
    head, *rest = route.name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _complete_document(app: FastAPI, schemas: dict, rules: dict[tuple[str, str], str]) -> None:
    """/openapi.json with what FastAPI cannot declare itself: the schemas of the bodies routes read raw
    (their requestBody refers to them by name), and a default response, ``{"detail": "field: reason"}``,
    on every operation of the API (declared through ``responses=``, a default would hide FastAPI's own 422),
    and each operation's access rule (``rules``: by method and path, from ``api.auth.check_rules``)."""
    document = app.openapi
    default = {"description": "any other refusal (404, 409, 413, 429...): the field at fault and why",
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}

    def openapi() -> dict:
        if app.openapi_schema is None:
            built = document()
            built["components"]["schemas"].update(schemas)
            built["components"]["schemas"].setdefault("ErrorOut", errors.ErrorOut.model_json_schema())
            for path, operations in built["paths"].items():
                for method, operation in operations.items() if path.startswith("/api/") else ():
                    operation["responses"].setdefault("default", default)
                    _declare_rule(operation, rules.get((method.upper(), path)))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_rule(operation: dict, rule: str | None) -> None:
    """401 and 403 where the route needs a key (with NAS_AUTH=required), and who may call it."""
    if rule in (None, "anyone"):
        return
    refused = {"$ref": "#/components/schemas/ErrorOut"}
    operation["responses"].setdefault("401", {"description": "no key, or an unknown or revoked one (NAS_AUTH="
                                              "required)", "content": {"application/json": {"schema": refused}}})
    if rule != "viewer":  # any key may read
        operation["responses"].setdefault("403", {"description": f"needs a{'n' * (rule == 'admin')} {rule} key "
                                                  "(a member changes only what it made)",
                                                  "content": {"application/json": {"schema": refused}}})
    operation["x-role"] = rule


app = create_app()
