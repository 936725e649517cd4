"""What every bench script shares: the path setup, the common flags, a timer, robust statistics,
interleaved runs, the machine's facts and the writers (``bench/results/`` and ``docs/benchmarks.md``).

A bench imports it first (``import _harness as h``; ``bench/`` is on ``sys.path`` when a script in it
runs), which puts the project root on ``sys.path`` so ``nas``, ``searchspaces`` and ``workers`` import
from the checkout. Its flags come from ``h.parser``:

- ``--write``: replace the bench's section of docs/benchmarks.md (between ``<!-- NAME:start -->`` and
  ``<!-- NAME:end -->``) with this run's table, dated, with the machine that made it; the document holds
  the current figures only (git keeps the earlier ones);
- ``--seed``: where the bench draws anything at random (its own default);
- ``--quick``: a smoke run of about a minute that checks the bench still works, with the small
  values it names; its figures mean nothing, so it cannot be combined with ``--write``, and the files
  it would write into ``bench/results/`` go to ``QUICK_RESULTS`` instead.

Medians and quartiles rather than means: on a shared machine one slow moment should not move a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
QUICK_RESULTS = Path(tempfile.gettempdir()) / "hwnas-bench-quick"  # where --quick runs write their files
HEADER = ("# Benchmarks\n\nThe current figures of each bench script, each section written by the script it names "
          "(`--write`), dated, with its machine; git keeps the earlier ones.\n")


# -- flags ----------------------------------------------------------------------------------------------
class BenchParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that applies ``--quick``'s values to the flags left at their defaults."""

    def __init__(self, *args: Any, quick: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.quick_values = dict(quick or {})

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        if getattr(parsed, "quick", False):
            if getattr(parsed, "write", False):
                self.error("--quick is a smoke run: its figures are not written (drop --write)")
            for name, value in self.quick_values.items():
                if getattr(parsed, name) == self.get_default(name):
                    setattr(parsed, name, value)
            for name, value in vars(parsed).items():  # keep bench/results/ for real runs
                if isinstance(value, Path) and value.is_relative_to(RESULTS) and value == self.get_default(name):
                    setattr(parsed, name, QUICK_RESULTS / value.relative_to(RESULTS))
        return parsed


def parser(doc: str, *, seed: int | None = None, quick: dict[str, Any] | None = None,
           write: bool = True) -> BenchParser:
    """The bench's parser: its docstring's first line as the description, and the common flags
    (``--seed`` with the bench's default, ``--quick`` with the values it sets, ``--write``)."""
    made = BenchParser(description=doc.strip().splitlines()[0], quick=quick)
    if seed is not None:
        made.add_argument("--seed", type=int, default=seed, help=f"seed of what the bench draws (default {seed})")
    if quick:
        values = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in quick.items())
        made.add_argument("--quick", action="store_true", help=f"a smoke run: {values} (figures not meaningful)")
    if write:
        made.add_argument("--write", action="store_true", help=f"write the table into {DOC.relative_to(ROOT)}")
    return made


def names(parser: argparse.ArgumentParser, text: str, known: Sequence[str], flag: str) -> list[str]:
    """A comma-separated list of names, each one of ``known``; a parser error naming ``flag`` otherwise."""
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in known]
    if unknown or not chosen:
        parser.error(f"{flag}: unknown {', '.join(unknown) or 'none given'}; known: {', '.join(known)}")
    return chosen


def spaces(parser: argparse.ArgumentParser, text: str, flag: str = "--spaces") -> list[str]:
    import searchspaces

    return names(parser, text, searchspaces.names(), flag)


# -- timing and statistics ------------------------------------------------------------------------------
class Timer:
    """Wall seconds (``perf_counter``) since it was made, until ``stop()`` or the end of its ``with`` block."""

    def __init__(self) -> None:
        self.started, self.stopped = time.perf_counter(), None

    @property
    def seconds(self) -> float:
        return (self.stopped if self.stopped is not None else time.perf_counter()) - self.started

    def stop(self) -> float:
        self.stopped = time.perf_counter()
        return self.seconds

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def timed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """``call(*args, **kwargs)``: the wall seconds it took and its result."""
    started = time.perf_counter()
    result = call(*args, **kwargs)
    return time.perf_counter() - started, result


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not None; None if there are none."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def spread(values: Iterable[float]) -> dict[str, float]:
    """A robust summary: median, quartiles and their distance (IQR), min, max and the count."""
    data = sorted(values)
    if not data:
        raise ValueError("spread of no values")
    q1, q2, q3 = statistics.quantiles(data, n=4, method="inclusive") if len(data) > 1 else (data[0],) * 3
    return {"n": len(data), "median": q2, "q1": q1, "q3": q3, "iqr": q3 - q1, "min": data[0], "max": data[-1]}


def rotated(ways: Sequence[Any], repeat: int) -> list[Any]:
    """The ways in the order of repeat ``repeat`` (from 0): each repeat starts one way later."""
    shift = repeat % len(ways)
    return [*ways[shift:], *ways[:shift]]


def interleave(ways: Sequence[Any], repeats: int, rotate: bool = True) -> Iterator[tuple[int, int, Any]]:
    """(repeat from 0, position from 1, way): every way once per repeat, one after another, so a drift of
    the machine falls on all of them alike; with ``rotate`` in the order ``rotated`` gives: none always first."""
    for repeat in range(repeats):
        for position, way in enumerate(rotated(ways, repeat) if rotate else ways, 1):
            yield repeat, position, way


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


# -- the machine ------------------------------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (``platform.processor()`` elsewhere)."""
    info = Path("/proc/cpuinfo")
    if not info.exists():
        return platform.processor()
    return next((line.split(":", 1)[1].strip() for line in info.read_text().splitlines()
                 if line.startswith("model name")), "")


def facts() -> dict[str, Any]:
    """When and where a run happens: date, cores, CPU, load average, Python and platform."""
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "cores": os.cpu_count(), "cpu": cpu_model(),
            "load_avg": os.getloadavg(), "python": platform.python_version(), "platform": platform.platform()}


def machine() -> str:
    """This host in a few words, as docs/benchmarks.md dates a section: CPU model, family and model, cores."""
    from nas.latency.shipped import host_cpu

    return f"{host_cpu()}; Python {platform.python_version()}"


# -- writers --------------------------------------------------------------------------------------------------
def save(out: Path, document: Any, lines: Sequence[str] | None = None) -> None:
    """``document`` as JSON to ``out`` and, given ``lines``, the printed report to the same path with ``.md``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1) + "\n")
    if lines is not None:
        out.with_suffix(".md").write_text("\n".join(lines) + "\n")
        print(f"wrote {out} and {out.with_suffix('.md')}")
    else:
        print(f"wrote {out}")


def write_section(name: str, title: str, body: str, doc: Path = DOC) -> None:
    """Replace (or append) the section ``name`` of docs/benchmarks.md with ``body``, dated, with this machine."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (f"<!-- {name}:start -->\n## {title}\n\n_{stamp}, on {machine()}._\n\n{body.strip()}\n"
             f"<!-- {name}:end -->")
    text = doc.read_text() if doc.exists() else HEADER
    pattern = re.compile(rf"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->", re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(text)
    print(f"wrote the {name!r} section of {doc}")


def publish(args: argparse.Namespace, name: str, title: str, body: str) -> None:
    """``write_section`` when the run was asked to ``--write``."""
    if getattr(args, "write", False):
        write_section(name, title, body)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A markdown table's lines."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)]
