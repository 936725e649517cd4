from fastapi import APIRouter, Depends, Request

from api.deps import get_store
from api.schemas import Health
from nas import __version__
from nas.latency.local import is_local
from nas.latency.shipped import (
    ENV_DEFAULT,
    default_device,
    host_cpu,
    shipped_device_here,
)
from nas.storage import NotFound, Store
from nas.storage.engine import describe

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(request: Request, store: Store = Depends(get_store)) -> Health:
    """Liveness of the service, the database and the Ray it uses."""
    dispatcher = getattr(request.app.state, "dispatcher", None)
    calibrating = dispatcher.calibrator.calibrating if dispatcher is not None else []
    return Health(status="ok", version=__version__, database=store.backend, database_url=describe(store.url),
                  ray=request.app.state.ray, cpu=host_cpu(), default_device=default_device(),
                  default_latency=default_latency(store), calibrating=calibrating)


def default_latency(store: Store) -> str:
    """How the default device's profiles were made: shipped for this CPU, fitted here, or chosen."""
    device = default_device()
    if is_local(device):
        spaces = sorted({p.search_space for p in _profiles(store, device)})
        done = f"fitted so far for {', '.join(spaces)}" if spaces else "none fitted yet"
        return (f"this machine's own profiles: its CPU has no shipped table, so each space's is fitted from "
                f"networks timed end to end here on first use ({done})")
    if device == shipped_device_here():
        return "the shipped tables measured block by block on this CPU"
    return f"chosen by {ENV_DEFAULT}" if device else "none"


def _profiles(store: Store, device: str) -> list:
    try:
        return store.list_profiles(device)
    except NotFound:  # not registered yet
        return []
