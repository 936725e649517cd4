"""Whole networks timed end to end on a device: the one place that reads and checks them.

A measurement is a network of a search space (its canonical arch string) and the time one inference
took on the device, in ms. Users write them as a CSV with columns ``arch`` and ``ms`` (what the kit's
``measure.py`` writes, or what they copy from their device's own tool), or send them as JSON.
``read_csv`` turns the file into ``(label, arch, ms)`` rows whose labels name the rows as the user
wrote them ("line 4"); ``check_measurements`` admits the rows of one space. Both refuse with
``MeasurementError`` listing every problem found, each naming its row, in the manner of
``nas.latency.schema.ProfileError``.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from typing import Any, Iterable

import searchspaces

MAX_ROWS = 10_000  # a kit has tens of networks; more is a wrong file, not a measurement
MAX_ARCH_CHARS = 2_000  # the longest canonical string of a shipped space is a few hundred characters
MAX_SHOWN = 20  # problems written out in the message; ``problems`` keeps them all
CONFLICT = 0.01  # times of one arch further apart than this (relative) contradict each other
COLUMNS = ("arch", "ms")


class MeasurementError(ValueError):
    """Measurements that cannot be used; ``problems`` lists each reason, naming its row."""

    def __init__(self, problems: list[str], source: str = "measurements") -> None:
        self.problems = list(problems)
        count = len(self.problems)
        shown = [f"- {p}" for p in self.problems[:MAX_SHOWN]]
        if count > MAX_SHOWN:
            shown.append(f"- ... and {count - MAX_SHOWN} more")
        listed = "\n".join(shown)
        super().__init__(f"invalid {source} ({count} problem{'s' * (count != 1)}):\n{listed}")


def _row_name(label: str, arch: Any) -> str:
    if not isinstance(arch, str) or not arch:
        return label
    short = arch if len(arch) <= 40 else arch[:40] + "..."
    return f"{label} (arch {short!r})"


def _ms_problem(ms: Any) -> str | None:
    """Why ``ms`` is not a usable time, or None."""
    if isinstance(ms, bool) or not isinstance(ms, numbers.Real):
        return f"ms must be a positive number, got {ms!r:.40}"
    if not math.isfinite(ms) or ms <= 0:
        return f"ms must be a positive number, got {str(float(ms))!r}"
    return None


def _text(data: str | bytes, source: str) -> str:
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8-sig")  # a spreadsheet may start its CSV with a byte-order mark
    except UnicodeDecodeError as error:
        raise MeasurementError(
            [f"not UTF-8 text (byte {error.start}): save it as a UTF-8 CSV with columns arch,ms"], source
        ) from None


def _header(header: list[str] | None, source: str) -> dict[str, int]:
    found = [name.strip() for name in header or []]
    lowered = [name.lower() for name in found]
    missing = [name for name in COLUMNS if name not in lowered]
    if missing:
        seen = ", ".join(repr(name) for name in found) if any(found) else "none"
        raise MeasurementError(
            [f"line 1: the header lacks column{'s' * (len(missing) > 1)} {' and '.join(missing)} "
             f"(found {seen}); the first line must name the columns, e.g. arch,ms"], source)
    return {name: lowered.index(name) for name in COLUMNS}


def read_csv(data: str | bytes, source: str = "measurements.csv") -> list[tuple[str, str, float]]:
    """The rows of a measurements CSV as ``(label, arch, ms)``, ``label`` its line ("line 4"; the
    header is line 1). Other columns are ignored; blank lines are skipped.

    Refuses with ``MeasurementError`` listing every bad row: text that is not UTF-8, a header without
    ``arch`` and ``ms``, an empty arch, or a time that is not a positive finite number. Whether each
    arch is in a space is ``check_measurements``'s to say.
    """
    reader = csv.reader(io.StringIO(_text(data, source), newline=""))
    try:
        columns = _header(next(reader, None), source)
        rows: list[tuple[str, str, float]] = []
        problems: list[str] = []
        for fields in reader:
            label = f"line {reader.line_num}"
            if not any(field.strip() for field in fields):
                continue
            if len(rows) + len(problems) >= MAX_ROWS:
                raise MeasurementError([f"{label}: more than {MAX_ROWS:,} rows; a kit has tens of networks"], source)
            row = _row(label, fields, columns, problems)
            if row is not None:
                rows.append(row)
    except csv.Error as error:
        raise MeasurementError([f"line {reader.line_num}: not a readable CSV row ({error})"], source) from None
    if problems:
        raise MeasurementError(problems, source)
    return rows


def _row(label: str, fields: list[str], columns: dict[str, int], problems: list[str]) -> tuple[str, str, float] | None:
    arch, ms = (fields[columns[name]].strip() if columns[name] < len(fields) else None for name in COLUMNS)
    found = len(problems)
    if not arch:
        problems.append(f"{label}: arch is empty")
    elif len(arch) > MAX_ARCH_CHARS:
        problems.append(f"{label}: arch is {len(arch):,} characters long, more than {MAX_ARCH_CHARS:,}")
        arch = None
    name = _row_name(label, arch)
    if ms is None or ms == "":
        problems.append(f"{name}: ms is missing")
        return None
    try:
        value = float(ms)
    except ValueError:
        problems.append(f"{name}: ms must be a number, got {ms!r:.40}")
        return None
    problem = _ms_problem(value)
    if problem:
        problems.append(f"{name}: ms must be a positive number, got {ms!r:.40}")
    return (label, arch, value) if len(problems) == found else None


def check_measurements(
    space_name: str, rows: Iterable[tuple[str, Any, Any]], *, minimum: int = 1
) -> list[tuple[str, float]]:
    """The measured networks of ``space_name`` as ``(canonical arch, ms)``, one per network, in the
    order first measured: times of one arch within 1% of each other are averaged.

    ``rows`` are ``(label, arch, ms)``, the label naming the row in errors ("line 4" from
    ``read_csv``, "measurements[3]" from JSON). Refuses with ``MeasurementError`` listing every bad
    row (an arch the space does not have, with the space's reason; a time that is not a positive
    number; one arch with times more than 1% apart, naming both rows) and fewer than ``minimum``
    distinct networks. An unknown space raises ``searchspaces.UnknownSpaceError``.
    """
    space = searchspaces.get(space_name)
    problems: list[str] = []
    times: dict[str, list[float]] = {}
    first: dict[str, tuple[str, float]] = {}  # canonical arch -> the label and time it was first seen with
    for label, arch, ms in rows:
        name = _row_name(label, arch)
        canonical = _canonical(space, arch, name, problems)
        problem = _ms_problem(ms)
        if problem:
            problems.append(f"{name}: {problem}")
        if canonical is None or problem:
            continue
        ms = float(ms)
        if canonical in first:
            other, seen = first[canonical]
            if max(ms, seen) > (1 + CONFLICT) * min(ms, seen):
                problems.append(f"{name}: timed {ms:g} ms, but the same network was timed {seen:g} ms at {other}, "
                                f"more than {CONFLICT:.0%} apart; time it again or keep one")
                continue
        else:
            first[canonical] = (label, ms)
        times.setdefault(canonical, []).append(ms)
    if len(times) < minimum:
        problems.append(f"needs at least {minimum} measured networks, got {len(times)}")
    if problems:
        raise MeasurementError(problems, f"measurements of space {space_name!r}")
    return [(arch, sum(found) / len(found)) for arch, found in times.items()]


def _canonical(space: searchspaces.SearchSpace, arch: Any, name: str, problems: list[str]) -> str | None:
    if not isinstance(arch, str) or not arch.strip():
        problems.append(f"{name}: arch must be a non-empty string, got {arch!r:.40}")
        return None
    if len(arch) > MAX_ARCH_CHARS:
        problems.append(f"{name}: arch is {len(arch):,} characters long, more than {MAX_ARCH_CHARS:,}")
        return None
    try:
        return space.encode(space.decode(arch.strip()))
    except ValueError as error:
        problems.append(f"{name}: not a network of space {space.name!r}: {error}")
        return None
