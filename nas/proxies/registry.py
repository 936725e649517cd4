"""Registry of zero-cost proxies (SamsungLabs/zero-cost-nas keeps one file per proxy with a
decorator; ours refuses duplicate names and declares what each proxy needs, so the engine can share
passes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from nas.proxies.context import ProxyContext

# What the engine's shared pass can capture for the proxies that read it.
CAPTURES = frozenset({"loss_grads", "graph", "fisher", "codes", "jacobian", "patterns"})


@dataclass(frozen=True)
class ProxySpec:
    name: str
    fn: Callable[["ProxyContext"], float]
    description: str
    needs_labels: bool
    needs_data: bool
    shared: frozenset[str]
    revision: int = 1  # raised when the score's definition changes: cached scores of another are not reused

    def describe(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "needs_labels": self.needs_labels,
            "needs_data": self.needs_data,
            "shared_pass": sorted(self.shared),
        }


_PROXIES: dict[str, ProxySpec] = {}


def proxy(
    name: str,
    *,
    description: str,
    labels: bool = False,
    data: bool = True,
    shared: tuple[str, ...] = (),
    revision: int = 1,
) -> Callable[[Callable[["ProxyContext"], float]], Callable[["ProxyContext"], float]]:
    """Register ``fn(context) -> float`` under ``name``; a second proxy with that name is an error.
    ``revision`` counts changes of what the score means (the score cache keys on it)."""
    unknown = set(shared) - CAPTURES
    if unknown:
        raise ValueError(f"proxy {name!r}: unknown shared captures {sorted(unknown)}")

    def register(fn: Callable[["ProxyContext"], float]) -> Callable[["ProxyContext"], float]:
        if name in _PROXIES:
            raise ValueError(f"proxy {name!r} is already registered")
        _PROXIES[name] = ProxySpec(name, fn, description, labels, data, frozenset(shared), revision)
        return fn

    return register


def names() -> list[str]:
    """Registered proxy names, in registration order (the baselines params and macs last)."""
    return list(_PROXIES)


def get(name: str) -> ProxySpec:
    try:
        return _PROXIES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown proxy {name!r}; known proxies: {', '.join(_PROXIES)}") from None
