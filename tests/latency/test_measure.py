"""The timing conditions the profiler fixes for a whole run: here, the C heap."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds pinned are glibc's")

# A 48 MiB tensor is made and freed again and again, as a network's activations are on every call,
# and the minor page faults of the last calls are counted.
FAULTS = """
import json, resource, sys, torch
from nas.latency.measure import steady_allocator
pinned = steady_allocator() if sys.argv[1] == "pin" else None
def call():
    return torch.ones(48 << 18).sum()
for _ in range(3):
    call()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    call()
print(json.dumps({"pinned": pinned, "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5}))
"""


def _faults(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@glibc_only
def test_a_steady_heap_stops_the_page_faults_of_every_call():
    default, pinned = _faults("default"), _faults("pin")
    # by default the block is mmapped and handed back on every call: 12,288 fresh 4 KiB pages each time
    assert default["pinned"] is None and default["faults"] > 1000
    assert pinned["pinned"].startswith("glibc ") and "mmap threshold 256 MiB" in pinned["pinned"]
    assert pinned["faults"] < 50


@glibc_only
def test_the_runner_pins_the_heap_and_says_how():
    from nas.latency.measure import Runner, steady_allocator

    assert Runner("torch").allocator == steady_allocator()
    assert steady_allocator().startswith("glibc ")
