"""A pool worker started with ``exit_with_parent`` ends when its parent is killed (SIGKILL: no clean-up
runs in the parent), rather than living on with its memory; one started without it stays (the case
the watch is for)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

PARENT = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from nas.children import exit_with_parent

if __name__ == "__main__":
    watched = sys.argv[1] == "watched"
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=exit_with_parent if watched else None,
                               initargs=(os.getpid(), 0.2) if watched else ())
    print(pool.submit(os.getpid).result(), flush=True)
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited: only its entry is left
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def _orphan_after_killing_its_parent(mode: str, tmp_path) -> int:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    return child


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_a_watched_worker_ends_with_its_parent(tmp_path):
    child = _orphan_after_killing_its_parent("watched", tmp_path)
    assert _gone_within(child, 20), f"worker {child} outlived its parent"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_an_unwatched_worker_outlives_its_parent(tmp_path):
    child = _orphan_after_killing_its_parent("plain", tmp_path)
    try:
        assert not _gone_within(child, 3), "the unwatched worker ended by itself: the watch would test nothing"
    finally:
        os.kill(child, signal.SIGKILL)
