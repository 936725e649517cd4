from fastapi import APIRouter, Request

from api.auth import Anyone
from api.deps import StoreDep
from api.schemas import Health
from nas import __version__
from nas.latency.shipped import default_device, host_cpu
from nas.storage.engine import describe
from nas.storage.here import default_latency

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, operation_id="getHealth")
def health(request: Request, store: StoreDep, caller: Anyone) -> Health:
    """Liveness of the service, the database and the Ray it uses. Without a key where one is required,
    only whether it is up, its version and its auth mode."""
    mode = request.app.state.settings.auth_mode()
    if caller is None:
        return Health(status="ok", version=__version__, auth=mode)
    dispatcher = getattr(request.app.state, "dispatcher", None)
    calibrating = dispatcher.calibrator.calibrating if dispatcher is not None else []
    return Health(status="ok", version=__version__, auth=mode, database=store.backend, database_url=describe(store.url),
                  ray=request.app.state.ray, cpu=host_cpu(), default_device=default_device(),
                  default_latency=default_latency(store), calibrating=calibrating)
