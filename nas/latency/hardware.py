"""The hardware a profile was measured on, in words (``device.hardware``): what the OS and torch say
about the CPU, after the GPU's name on an accelerator."""

from __future__ import annotations

import os
import platform

import torch

from nas.latency.measure import accelerator_name


def describe_hardware(accelerator: str | None = None) -> str:
    """``x86_64, 2 cores, AMD EPYC (family 23 model 1, 1996 MHz, AVX2)`` from what the OS and torch
    say, after the GPU's name on an accelerator. A cloud VM's model name may be no more than "AMD
    EPYC", which hosts three times apart in speed share; the family, model, clock and the vector
    instructions torch uses tell them apart."""
    fields = _first_processor()
    model = fields.get("model name") or platform.processor() or ""
    details = []
    if "cpu family" in fields and "model" in fields:
        details.append(f"family {fields['cpu family']} model {fields['model']}")
    try:
        details.append(f"{float(fields['cpu MHz']):.0f} MHz")
    except (KeyError, ValueError):
        pass
    details.append(torch.backends.cpu.get_cpu_capability())  # the vector instructions torch's kernels use
    detail = ", ".join(details)
    cpu = f"{model} ({detail})" if model and detail else model or detail
    gpu = accelerator_name(accelerator)
    return ", ".join(p for p in (gpu, platform.machine(), f"{os.cpu_count()} cores", cpu) if p)


def _first_processor() -> dict[str, str]:
    """The fields ``/proc/cpuinfo`` gives for the first processor (none where there is no such file)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if not line.strip():
                    break  # the first processor is enough
                name, _, value = line.partition(":")
                fields.setdefault(name.strip(), value.strip())
    except OSError:
        pass
    return fields
