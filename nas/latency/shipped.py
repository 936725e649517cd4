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
from nas.errors import InvalidField
from nas.latency.schema import Profile, ProfileError, validate_profile

# The machine class's first table (see docs/reference.md, "Shipped tables"): the default where no shipped
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
    from nas.latency.hardware import describe_hardware  # imports torch: only when asked

    return describe_hardware()


def shipped_device_here() -> str | None:
    """The shipped device whose tables were measured on this host's CPU, or ``None``."""
    wanted = cpu_signature(host_cpu())
    if wanted is None:
        return None
    return next((d for d, theirs in shipped_hardware().items() if cpu_signature(theirs) == wanted), None)


def local_device_name(hardware: str | None = None) -> str:
    """A device name for this CPU, ``local-amd-epyc-f25m17``: its model name, family and model."""
    hardware = hardware if hardware is not None else host_cpu()
    found = cpu_signature(hardware)
    words = hardware if found is None else f"{found[1]} f{found[2]}m{found[3]}"
    slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"\((r|tm)\)", "", words.lower())).strip("-")
    return ("local-" + slug)[:64].rstrip("-.")


def default_device() -> str:
    """The device a search that names none uses: ``NAS_DEFAULT_DEVICE`` where set, else the shipped
    device of this host's CPU, else this machine's own device (``local_device_name``), whose profile
    is fitted here on first need (``nas.latency.local``): never another CPU's table, silently."""
    from nas.settings import get_settings

    return get_settings().default_device or shipped_device_here() or local_device_name()


def default_profile(space_name: str) -> Profile:
    """The shipped table of the default device for ``space_name`` where it is a shipped device, else
    the shipped table nearest this host (``reference_table``: the one a fit of this machine scales;
    the searches themselves then use the fitted profile, kept in the store)."""
    device = default_device()
    if (device, space_name) in shipped_files():
        return read_shipped(device, space_name)
    return reference_table(space_name)


def reference_table(space_name: str, reference: Profile | str | None = None) -> Profile:
    """The block table a fit scales: ``reference`` itself, the shipped device it names, or the
    shipped table of this host's CPU (``DEFAULT_DEVICE``'s where that CPU has none)."""
    if isinstance(reference, Profile):
        if reference.search_space != space_name:
            raise InvalidField("reference", f"a table of space {reference.search_space!r}, not {space_name!r}")
        return reference
    device = reference or shipped_device_here() or DEFAULT_DEVICE
    if reference is None and (device, space_name) not in shipped_files():
        device = DEFAULT_DEVICE
    return read_shipped(device, space_name)
