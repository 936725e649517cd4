from fastapi import APIRouter

from api.schemas import Health
from nas import __version__

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness of the service."""
    return Health(status="ok", version=__version__)
