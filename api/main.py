"""The ASGI app: ``uvicorn api.main:app`` (what ``nas serve`` runs)."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import dashboard, errors
from api.limits import BodySizeLimit
from api.routes import candidates, datasets, devices, health, proxies, searches, spaces
from nas import __version__
from nas.settings import Settings, get_settings
from nas.storage import open_store
from nas.storage.here import ensure_local_device


def create_app(settings: Settings | None = None, run_searches: bool = True) -> FastAPI:
    """The app; ``settings`` default to the environment's (``NAS_*``, ``DATABASE_URL``,
    ``RAY_ADDRESS``). ``run_searches=False`` serves without Ray: searches stay queued."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings or get_settings()
        # Migrates the database to head and registers the shipped devices before the first request.
        app.state.store = open_store(app.state.settings.database_url)
        app.state.store.devices.ensure_shipped()
        ensure_local_device(app.state.store)  # this machine's own device, where its CPU has no shipped table
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
    )
    app.include_router(health.router, prefix="/api/v1")
    app.include_router(spaces.router, prefix="/api/v1")
    app.include_router(proxies.router, prefix="/api/v1")
    app.include_router(devices.router, prefix="/api/v1")
    app.include_router(searches.router, prefix="/api/v1")
    app.include_router(datasets.router, prefix="/api/v1")
    app.include_router(candidates.router, prefix="/api/v1")
    # The pages, then /static: the router's /static/plotly.min.js (the vendored bundle, cached) comes first.
    app.include_router(dashboard.router)
    app.mount("/static", dashboard.static_files(), name="static")
    app.add_middleware(BodySizeLimit)
    errors.install(app)
    return app


app = create_app()
