"""Whole networks timed end to end on a device: the one place that reads and checks them.

A measurement is a network of a search space (its canonical arch string) and the time one inference
took on the device, in ms. Users write them as a CSV with columns ``arch`` and ``ms`` (what the kit's
``measure.py`` writes, or what they copy from their device's own tool), or send them as JSON.
``read_csv`` turns the file into ``(label, arch, ms)`` rows whose labels name the rows as the user
wrote them ("line 4"); ``check_measurements`` admits the rows of one space. Both refuse with
``MeasurementError`` (a ``nas.errors.InvalidField``, like ``nas.latency.schema.ProfileError``)
listing every problem found, each at its row's field (``line 4.ms``; ``measurements.3.arch`` for the
fourth of a JSON list) and named in its message as the user knows the row ("line 4 (arch '...')").
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from typing import Any, Iterable

import searchspaces
from nas.errors import InvalidField, Problem

MAX_ROWS = 10_000  # a kit has tens of networks; more is a wrong file, not a measurement
MAX_MS = 3_600_000.0  # an hour for one inference: far above any network of a space, and a fit stays finite
MAX_ARCH_CHARS = 2_000  # the longest canonical string of a shipped space is a few hundred characters
CONFLICT = 0.01  # times of one arch further apart than this (relative) contradict each other
COLUMNS = ("arch", "ms")


class MeasurementError(InvalidField):
    """Measurements that cannot be used: ``problems`` lists each reason at its row's field; ``source``
    (the error's ``what``) names what was read ("measurements.csv")."""

    kind = "measurement"

    @classmethod
    def of(cls, *problems: Problem, source: str = "measurements") -> MeasurementError:
        return cls.many(problems, what=source)


def _row_name(label: str, arch: Any) -> str:
    if not isinstance(arch, str) or not arch:
        return label
    short = arch if len(arch) <= 40 else arch[:40] + "..."
    return f"{label} (arch {short!r})"


def _ms_problem(ms: Any) -> str | None:
    """Why ``ms`` is not a usable time, or None."""
    if isinstance(ms, bool) or not isinstance(ms, numbers.Real):
        return f"ms must be a positive number, got {ms!r:.40}"
    # an integer of any size is compared as is: float() of one past 1e308 would raise
    shown = repr(str(float(ms))) if isinstance(ms, float) or abs(ms) < 1e300 else "an integer past 1e300"
    if not isinstance(ms, numbers.Integral) and not math.isfinite(ms) or ms <= 0:
        return f"ms must be a positive number, got {shown}"
    if ms > MAX_MS:
        return f"ms must be at most {MAX_MS:,.0f} (an hour), got {shown}"
    return None


def _text(data: str | bytes, source: str) -> str:
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8-sig")  # a spreadsheet may start its CSV with a byte-order mark
    except UnicodeDecodeError as error:
        raise MeasurementError.of(
            Problem("", f"not UTF-8 text (byte {error.start}): save it as a UTF-8 CSV with columns arch,ms"),
            source=source) from None


def _header(header: list[str] | None, source: str) -> dict[str, int]:
    found = [name.strip() for name in header or []]
    lowered = [name.lower() for name in found]
    missing = [name for name in COLUMNS if name not in lowered]
    if missing:
        seen = ", ".join(repr(name) for name in found) if any(found) else "none"
        raise MeasurementError.of(
            Problem("line 1", f"the header lacks column{'s' * (len(missing) > 1)} {' and '.join(missing)} "
                              f"(found {seen}); the first line must name the columns, e.g. arch,ms"), source=source)
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
        problems: list[Problem] = []
        for fields in reader:
            label = f"line {reader.line_num}"
            if not any(field.strip() for field in fields):
                continue
            if len(rows) + len(problems) >= MAX_ROWS:
                raise MeasurementError.of(Problem(label, f"more than {MAX_ROWS:,} rows; a kit has tens of networks"),
                                          source=source)
            row = _row(label, fields, columns, problems)
            if row is not None:
                rows.append(row)
    except csv.Error as error:
        reason = (f"a field is longer than {csv.field_size_limit():,} characters (an arch is at most "
                  f"{MAX_ARCH_CHARS:,})" if "field limit" in str(error) else f"not a readable CSV row ({error})")
        raise MeasurementError.of(Problem(f"line {reader.line_num}", reason), source=source) from None
    if problems:
        raise MeasurementError.of(*problems, source=source)
    return rows


def _row(label: str, fields: list[str], columns: dict[str, int], problems: list[Problem]) -> tuple[str, str, float] | None:
    arch, ms = (fields[columns[name]].strip() if columns[name] < len(fields) else None for name in COLUMNS)
    found = len(problems)
    if not arch:
        problems.append(Problem(f"{label}.arch", "arch is empty", label))
    elif len(arch) > MAX_ARCH_CHARS:
        problems.append(Problem(f"{label}.arch", f"arch is {len(arch):,} characters long, more than {MAX_ARCH_CHARS:,}",
                                label))
        arch = None
    name = _row_name(label, arch)
    if ms is None or ms == "":
        problems.append(Problem(f"{label}.ms", "ms is missing", name))
        return None
    try:
        value = float(ms)
    except ValueError:
        problems.append(Problem(f"{label}.ms", f"ms must be a number, got {ms!r:.40}", name))
        return None
    problem = _ms_problem(value)
    if problem:
        # as written: a number of 400 digits reads as inf, and is too long, not infinite
        too_long = value > MAX_MS and ms.lstrip("+").lower() not in ("inf", "infinity")
        reason = f"ms must be {f'at most {MAX_MS:,.0f} (an hour)' if too_long else 'a positive number'}, got {ms!r:.40}"
        problems.append(Problem(f"{label}.ms", reason, name))
    return (label, arch, value) if len(problems) == found else None


def check_measurements(
    space_name: str, rows: Iterable[tuple[str | int, Any, Any]], *, minimum: int = 1, field: str = ""
) -> list[tuple[str, float]]:
    """The measured networks of ``space_name`` as ``(canonical arch, ms)``, one per network, in the
    order first measured: times of one arch within 1% of each other are averaged.

    ``rows`` are ``(label, arch, ms)``, the label naming the row as the user knows it: a line of a
    file ("line 4", from ``read_csv``), or a position in the list ``field`` of what the user sent (3
    with ``field="measurements"``: the field ``measurements.3``, named "measurements[3]"). ``field``
    holds the problem of too few networks too (none for a file: the file as a whole is short).
    Refuses with ``MeasurementError`` listing every bad row (an arch the space does not have, with the
    space's reason; a time that is not a positive number; one arch with times more than 1% apart,
    naming both rows) and fewer than ``minimum`` distinct networks. An unknown space raises
    ``searchspaces.UnknownSpaceError``.
    """
    space = searchspaces.get(space_name)
    problems: list[Problem] = []
    times: dict[str, list[float]] = {}
    first: dict[str, tuple[str, float]] = {}  # canonical arch -> the row's name and time it was first seen with
    for count, (label, arch, ms) in enumerate(rows):
        if count == MAX_ROWS:
            problems.append(Problem(field, f"more than {MAX_ROWS:,} measured networks; a kit has tens", ""))
            break
        at, named = _row_at(label, field)
        name = _row_name(named, arch)
        canonical = _canonical(space, arch, at, name, problems)
        problem = _ms_problem(ms)
        if problem:
            problems.append(Problem(f"{at}.ms", problem, name))
        if canonical is None or problem:
            continue
        ms = float(ms)
        if canonical in first:
            other, seen = first[canonical]
            if max(ms, seen) > (1 + CONFLICT) * min(ms, seen):
                problems.append(Problem(f"{at}.ms", f"timed {ms:g} ms, but the same network was timed {seen:g} ms "
                                        f"at {other}, more than {CONFLICT:.0%} apart; time it again or keep one", name))
                continue
        else:
            first[canonical] = (named, ms)
        times.setdefault(canonical, []).append(ms)
    if len(times) < minimum:
        problems.append(Problem(field, f"needs at least {minimum} measured networks, got {len(times)}", ""))
    if problems:
        raise MeasurementError.of(*problems, source=f"measurements of space {space_name!r}")
    return [(arch, sum(found) / len(found)) for arch, found in times.items()]


def _row_at(label: str | int, field: str) -> tuple[str, str]:
    """A row's field and its name in messages: a position in the list ``field``, or a line as labelled."""
    if isinstance(label, int):
        return (f"{field}.{label}", f"{field}[{label}]") if field else (str(label), f"row {label}")
    return label, label


def _canonical(space: searchspaces.SearchSpace, arch: Any, at: str, name: str, problems: list[Problem]) -> str | None:
    if not isinstance(arch, str) or not arch.strip():
        problems.append(Problem(f"{at}.arch", f"arch must be a non-empty string, got {arch!r:.40}", name))
        return None
    if len(arch) > MAX_ARCH_CHARS:
        problems.append(Problem(f"{at}.arch", f"arch is {len(arch):,} characters long, more than {MAX_ARCH_CHARS:,}",
                                name))
        return None
    try:
        return space.encode(space.decode(arch.strip()))
    except ValueError as error:
        problems.append(Problem(f"{at}.arch", f"not a network of space {space.name!r}: {error}", name))
        return None
