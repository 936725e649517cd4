"""A bank of real devices' fitted weights: the prior a fit from few measurements leans on.

For NAS-Bench-201, HELP (Lee et al., NeurIPS 2021; github.com/HayeonLee/HELP, MIT licence) published
the latency of all 15,625 cells on 27 device settings: GPUs at batch 1, 32 and 256, server CPUs,
phones, a Raspberry Pi 4, an FPGA and the Eyeriss ASIC (the last four from HW-NAS-Bench). We ship no
latency from it, only each setting's weights of our linear model (``nas.latency.linear``) fitted on
all its cells: ``latency_tables/nb201_device_bank.json``, made by ``bench/make_device_bank.py``. A new
device's few measurements then pick out where it sits among known devices, HELP's idea of a hardware
embedding in its plainest, linear form.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Collection

import numpy as np

from nas.latency.linear import Design, Prior

PACKAGE = "latency_tables"
FILES = {"nasbench201": "nb201_device_bank.json"}
RELATIVE_JITTER = 0.1  # the broad component's added spread, as a share of each weight's spread over the bank
# Each device's component is a Gaussian around its weights whose spread is this share of each weight's
# spread over the bank; a vague component (this many times each weight's size) is there for a device
# unlike any in the bank; and the relative noise levels are weighed with the components by evidence.
# They were chosen on HELP's data with every device left out of its own bank in turn
# (bench/device_fit.py), once for all devices: without the vague component Eyeriss, the one device
# unlike the rest, fell to Spearman 0.974 from 10 measurements where plain least squares reaches 0.996.
# With the unread-work features the near spread went from 0.3 to 0.5 (20 draws of 10 random cells:
# mean Spearman 0.9724 to 0.9731, within +-10% 84.7% to 85.5%); wider noise levels gained nothing.
NEAR_SPREAD = 0.5
VAGUE_SPREAD = 1.0
NOISES = (0.02, 0.05, 0.1)


@functools.cache
def read_bank(space_name: str) -> dict | None:
    """The bank document of ``space_name``, or ``None`` where the space has none."""
    name = FILES.get(space_name)
    if name is None:
        return None
    return json.loads(resources.files(PACKAGE).joinpath(name).read_bytes())


def bank_prior(space_name: str, plan: Design, exclude: Collection[str] = ()) -> Prior | None:
    """The Gaussian prior over ``plan``'s weights from the bank's devices, leaving out the devices
    whose family is in ``exclude`` (a device is never its own reference in an evaluation); ``None``
    where the space has no bank or the bank's features differ from the plan's."""
    bank = read_bank(space_name)
    if bank is None or tuple(bank["features"]) != plan.names:
        return None
    devices = {name: d for name, d in bank["devices"].items() if d["family"] not in set(exclude)}
    if len(devices) < 3:
        return None
    weights = np.array([d["weights"] for d in devices.values()])
    mean = weights.mean(axis=0)
    spread = weights.std(axis=0) + 1e-9
    covariance = np.cov(weights, rowvar=False) + np.diag((RELATIVE_JITTER * spread) ** 2)
    broad = Prior(mean, np.linalg.inv(covariance), "bank")
    near = np.diag(1.0 / (NEAR_SPREAD * spread) ** 2)
    parts = tuple(Prior(w, near, name) for name, w in zip(devices, weights))
    vague = Prior(mean, np.diag(1.0 / (VAGUE_SPREAD * np.maximum(np.abs(mean), spread)) ** 2), "vague")
    return Prior(mean, broad.precision, f"bank of {len(devices)} devices", (*parts, broad, vague), NOISES)


def bank_devices(space_name: str, exclude: Collection[str] = ()) -> list[str]:
    """The names of the bank's devices that a prior drew on."""
    bank = read_bank(space_name) or {"devices": {}}
    return sorted(n for n, d in bank["devices"].items() if d["family"] not in set(exclude))
