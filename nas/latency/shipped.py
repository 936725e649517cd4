"""The profiles shipped in ``latency_tables/``: one JSON file per device and space.

Files are named ``<device>__<space>.json`` and read with ``importlib.resources``, so they work from
an installed wheel as well as from a checkout. Nothing is downloaded.

One machine class ("x86-64, 2 cores") can be CPUs two to three times apart in speed under one model
name, so a table of one is no table of another. Each CPU gets its own shipped device, and
``default_device()`` picks the one whose tables name this host's CPU (its architecture, model name,
family and model, as ``describe_hardware`` writes them into ``device.hardware``); a host that none
names gets ``DEFAULT_DEVICE``.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources

import searchspaces
from nas.latency.schema import Profile, ProfileError, validate_profile

# The machine class's first table (see latency_tables/README.md): the default where no shipped
# table names this host's CPU.
DEFAULT_DEVICE = "x86-64-2core"
PACKAGE = "latency_tables"

# "x86_64, 2 cores, AMD EPYC (family 23 model 1, 1996 MHz, AVX2)": architecture, name, family, model.
# The clock and the vector extension are left out: the first moves with the host's power state, the
# second with torch's version, and neither makes another CPU.
_CPU = re.compile(r"^(?P<arch>[^,]+), \d+ cores, (?P<name>.*?) \(family (?P<family>\d+) model (?P<model>\d+)\b")


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


def cpu_signature(hardware: str) -> tuple[str, str, int, int] | None:
    """``(architecture, CPU name, family, model)`` from a ``device.hardware`` text as ``nas profile``
    writes it; ``None`` where the text does not name the family and model (older tables, GPUs, a
    user's own wording)."""
    found = _CPU.match(hardware)
    if found is None:
        return None
    return found["arch"], found["name"].strip(), int(found["family"]), int(found["model"])


@functools.cache
def shipped_hardware() -> dict[str, str]:
    """``{device: device.hardware}`` of every shipped CPU device (one file of each is read)."""
    hardware = {}
    for (device, _space), name in sorted(shipped_files().items()):
        if device not in hardware:
            header = json.loads(resources.files(PACKAGE).joinpath(name).read_bytes())["device"]
            if header.get("accelerator") is None:
                hardware[device] = header["hardware"]
    return hardware


def device_for(hardware: str) -> str:
    """The shipped device whose tables were measured on the CPU ``hardware`` describes, else
    ``DEFAULT_DEVICE``."""
    wanted = cpu_signature(hardware)
    if wanted is not None:
        for device, theirs in shipped_hardware().items():
            if cpu_signature(theirs) == wanted:
                return device
    return DEFAULT_DEVICE


@functools.cache
def host_cpu() -> str:
    """This host's CPU as ``nas profile`` writes it into ``device.hardware`` (``describe_hardware``), read once."""
    from nas.latency.profiler import describe_hardware  # imports torch: only when asked

    return describe_hardware()


@functools.cache
def default_device() -> str:
    """The shipped device of this host's CPU (``device_for(host_cpu())``)."""
    return device_for(host_cpu())


def default_profile(space_name: str) -> Profile:
    """The shipped profile for ``space_name`` of this host's CPU (``default_device()``), or of
    ``DEFAULT_DEVICE`` where that CPU's tables do not cover the space."""
    device = default_device()
    if (device, space_name) not in shipped_files():
        device = DEFAULT_DEVICE
    return read_shipped(device, space_name)
