from fastapi import APIRouter, Depends

from api.deps import get_store
from api.schemas import Health
from nas import __version__
from nas.storage import Store
from nas.storage.engine import describe

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(store: Store = Depends(get_store)) -> Health:
    """Liveness of the service and the database it uses."""
    return Health(status="ok", version=__version__, database=store.backend, database_url=describe(store.url))
