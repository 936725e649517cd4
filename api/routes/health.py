from functools import cache

from fastapi import APIRouter, Depends, Request

from api.deps import get_store
from api.schemas import Health
from nas import __version__
from nas.latency import default_device
from nas.latency.profiler import describe_hardware
from nas.storage import Store
from nas.storage.engine import describe

router = APIRouter(tags=["health"])
_cpu = cache(describe_hardware)  # read once: /health is polled


@router.get("/health", response_model=Health)
def health(request: Request, store: Store = Depends(get_store)) -> Health:
    """Liveness of the service, the database and the Ray it uses."""
    return Health(status="ok", version=__version__, database=store.backend, database_url=describe(store.url),
                  ray=request.app.state.ray, cpu=_cpu(), default_device=default_device())
