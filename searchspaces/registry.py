"""Registry of search spaces by name; refuses duplicate names."""

from __future__ import annotations

from searchspaces.base import SearchSpace

_SPACES: dict[str, SearchSpace] = {}


class UnknownSpaceError(KeyError):
    """Raised by ``get`` for a name no space is registered under."""

    def __str__(self) -> str:
        return str(self.args[0])


def register(space: SearchSpace) -> SearchSpace:
    """Add ``space`` under ``space.name``; a second space with the same name is an error."""
    if not space.name:
        raise ValueError(f"{type(space).__name__} has no name")
    if space.name in _SPACES:
        raise ValueError(f"search space {space.name!r} is already registered")
    _SPACES[space.name] = space
    return space


def names() -> list[str]:
    """The registered space names, sorted."""
    return sorted(_SPACES)


def get(name: str) -> SearchSpace:
    """The space called ``name``; ``UnknownSpaceError`` (a ``KeyError``) listing the known names."""
    try:
        return _SPACES[name]
    except (KeyError, TypeError):
        raise UnknownSpaceError(
            f"unknown search space {name!r}; known spaces: {', '.join(names())}"
        ) from None
