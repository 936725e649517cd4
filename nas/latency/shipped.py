"""The profiles shipped in ``latency_tables/``: one JSON file per device and space.

Files are named ``<device>__<space>.json`` and read with ``importlib.resources``, so they work from
an installed wheel as well as from a checkout. Nothing is downloaded.
"""

from __future__ import annotations

from importlib import resources

import searchspaces
from nas.latency.schema import Profile, ProfileError, validate_profile

# The machine class the shipped profiles were measured on (see latency_tables/README.md).
DEFAULT_DEVICE = "x86-64-2core"
PACKAGE = "latency_tables"


def shipped_files() -> dict[tuple[str, str], str]:
    """``{(device, space): file name}`` of every shipped profile."""
    found = {}
    for item in resources.files(PACKAGE).iterdir():
        name = item.name
        if name.endswith(".json") and "__" in name:
            device, space = name[: -len(".json")].split("__", 1)
            found[(device, space)] = name
    return found


def read_shipped(device: str, space_name: str) -> Profile:
    """The shipped profile of ``device`` on ``space_name``; ``LookupError`` naming what exists."""
    searchspaces.get(space_name)  # unknown space: UnknownSpaceError naming the known ones
    files = shipped_files()
    name = files.get((device, space_name))
    if name is None:
        have = ", ".join(f"{d}/{s}" for d, s in sorted(files)) or "none"
        raise LookupError(f"no shipped profile for device {device!r} on space {space_name!r}; shipped: {have}")
    text = resources.files(PACKAGE).joinpath(name).read_bytes()
    try:
        return validate_profile(text, source=f"shipped profile {name}")
    except ProfileError as error:  # a packaging mistake, not a user's: say which file
        raise RuntimeError(str(error)) from None


def default_profile(space_name: str) -> Profile:
    """The shipped profile of this machine class (``DEFAULT_DEVICE``) for ``space_name``."""
    return read_shipped(DEFAULT_DEVICE, space_name)
