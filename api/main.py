"""The ASGI app: ``uvicorn api.main:app`` (what ``nas serve`` runs)."""

from fastapi import FastAPI

from api.routes import health, proxies, spaces
from nas import __version__


def create_app() -> FastAPI:
    app = FastAPI(
        title="Hardware-aware NAS",
        version=__version__,
        description="Search small vision networks under a device latency budget.",
    )
    app.include_router(health.router, prefix="/api/v1")
    app.include_router(spaces.router, prefix="/api/v1")
    app.include_router(proxies.router, prefix="/api/v1")
    return app


app = create_app()
