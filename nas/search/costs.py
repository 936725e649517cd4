"""What one candidate's evaluation may cost, known before a search is stored.

The memory an evaluation adds to its process grows with the proxy batch, and grasp's second-order
pass dominates everything else: measured with ``bench/eval_memory.py`` (docs/benchmarks.md, "Peak
memory of one evaluation"; the largest of 20 sampled candidates per space), MobileNetV3 at the
default batch of 64 took 9.1 GB with grasp and 0.16 GB with synflow. So each space has a linear
model of the added memory in the proxy batch, for three kinds of proxy set: batch-free (synflow, meco and
the counts: one image whatever the batch), with grasp, and any other (the shared data passes; zen and
the AZ-NAS components read no data but pass a Gaussian batch of the same size).

A search whose estimate is over ``MAX_EVAL_MB`` is refused before anything is stored, naming
``proxy_batch`` and the most images that fit; when the request names no proxy batch, the space's
default is lowered to fit instead. A Ray task declares its estimate (plus the worker's own
``WORKER_MB``), so the scheduler does not pack more evaluations on a node than its memory holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import nas.proxies
from nas.errors import InvalidField
from nas.evaluate import ProxyConfig

MAX_EVAL_MB = 4096  # what one evaluation may add; two run at once on a two-core machine
WORKER_MB = 300  # a Ray worker with torch imported, before it evaluates anything


BATCH_FREE = frozenset({"synflow", "meco", "params", "macs"})  # one image (or none) whatever the batch
MARGIN = 1.15  # the measured candidate is the largest of 20 sampled, not the largest of the space


@dataclass(frozen=True)
class Line:
    """Added memory in MB as measured, ``base + per_image * batch`` (at the space's largest
    resolution); estimates add ``MARGIN``."""

    base: float
    per_image: float

    def at(self, batch: int) -> float:
        return (self.base + self.per_image * batch) * MARGIN

    def most_images(self, limit_mb: float) -> int:
        if self.per_image <= 0:
            return 1 << 30
        return max(0, int((limit_mb / MARGIN - self.base) // self.per_image))


# Through the 16- and 64-image points of bench/eval_memory.py (2026-12-03; "grasp": the larger of
# grasp alone and every proxy together, "other": every proxy but grasp).
MEMORY = {
    "nasbench201": {"data_free": Line(90, 0), "grasp": Line(80, 17), "other": Line(80, 6.7)},
    "mobilenetv3": {"data_free": Line(150, 0), "grasp": Line(530, 116), "other": Line(310, 50)},
    "shufflenetv2": {"data_free": Line(135, 0), "grasp": Line(280, 117), "other": Line(70, 55)},
    "metaformer": {"data_free": Line(345, 0), "grasp": Line(785, 141.5), "other": Line(90, 72.5)},
}


def _line(space: str, proxies: tuple[str, ...]) -> Line:
    lines = MEMORY[space]
    if "grasp" in proxies:
        return lines["grasp"]
    if set(proxies) <= BATCH_FREE:
        return lines["data_free"]
    return lines["other"]


def eval_mb(space: str, proxy: ProxyConfig) -> float:
    """The memory one evaluation of ``proxy`` on ``space`` adds, in MB (an estimate, on the high side)."""
    return _line(space, proxy.proxies).at(proxy.batch_size)


def task_bytes(space: str, proxy: ProxyConfig) -> int:
    """What a Ray task evaluating one candidate declares (its ``memory`` resource)."""
    return int((WORKER_MB + eval_mb(space, proxy)) * 1024 * 1024)


def default_batch(space: str, proxies: tuple[str, ...]) -> int:
    """The space's default proxy batch, lowered to what fits in ``MAX_EVAL_MB`` (a multiple of 8 from
    8 up; at least 1)."""
    default, fits = nas.proxies.DEFAULT_BATCH.get(space, 64), _line(space, proxies).most_images(MAX_EVAL_MB)
    return default if fits >= default else max(1, fits // 8 * 8 or fits)


def check(space: str, proxy: ProxyConfig) -> None:
    """``InvalidField`` naming ``proxy_batch`` when an evaluation would take more than ``MAX_EVAL_MB``."""
    line = _line(space, proxy.proxies)
    if line.at(proxy.batch_size) > MAX_EVAL_MB:
        heavy = "with grasp " if "grasp" in proxy.proxies else ""
        raise InvalidField("proxy_batch", f"{proxy.batch_size} images of {space} {heavy}would take about "
                           f"{line.at(proxy.batch_size) / 1024:.1f} GB per evaluation, over the "
                           f"{MAX_EVAL_MB / 1024:.0f} GB one may use; at most {line.most_images(MAX_EVAL_MB)} images")
