"""Child processes that end with their parent.

A ``ProcessPoolExecutor`` worker waits on its task queue for ever: when the process that made it is
killed (SIGKILL, the OOM killer, a crash), nothing tells the worker, and it stays alive holding its
memory (an export builder: hundreds of MB with torch loaded). ``exit_with_parent`` is a pool
``initializer``: a daemon thread in the worker checks every ``every`` seconds whether its parent is
still the process that started it, and ends the worker when it is not.
"""

from __future__ import annotations

import os
import threading
import time

CHECK_EVERY = 2.0  # seconds


def exit_with_parent(parent: int, every: float = CHECK_EVERY) -> None:
    """Start the watch in this (child) process; ``parent`` is the pid of the process that spawned it."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(0)  # the parent is gone: no one is left to take a result

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
