from fastapi import APIRouter

import nas.proxies
from api.auth import READ
from api.schemas import ProxyInfo

router = APIRouter(tags=["proxies"])


@router.get("/proxies", response_model=list[ProxyInfo], operation_id="listProxies", dependencies=[READ])
def list_proxies() -> list[dict]:
    """The zero-cost proxies and what each needs (labels, real data, which shared pass it reads)."""
    return [nas.proxies.get(name).describe() for name in nas.proxies.names()]
