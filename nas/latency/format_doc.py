"""The reference of the latency profile format, ``latency_tables/FORMAT.md``, generated from the schema.

Every field's type, whether it is required, its default and its bounds come from the pydantic model
``nas.latency.schema.Profile`` (its JSON Schema); what each field means is written once here, in
``MEANINGS``, and rendering refuses a field without a meaning or a meaning without a field, so the
document cannot fall behind the model. ``tests/latency/test_format_doc.py`` checks that the committed
file is what this renders.

    python -m nas.latency.format_doc                 # rewrite latency_tables/FORMAT.md
    python -m nas.latency.format_doc --check         # exit 1 if it is stale
    python -m nas.latency.format_doc --json-schema   # print the model's JSON Schema
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nas.latency.schema import SCHEMA_VERSION, Profile

MEANINGS = {
    "schema_version": "`4`; documents of versions 1-3 are still read (1 had no `calibration.kind_scales`, 2 no "
                      "`speed_check`, 3 no `fit`, `calibration.structure` or `validation.method`)",
    "device": "the device, runtime and settings the table was measured with",
    "device.name": "how searches name the device",
    "device.hardware": "free text: CPU or GPU model, cores, memory (`nas profile` writes the CPU's architecture, "
                       "model name, family, model, clock and vector extension)",
    "device.runtime": "e.g. `torch`, `onnxruntime`",
    "device.runtime_version": "e.g. `2.13.0+cpu`, `1.32.0`",
    "device.threads": "threads of the runtime, fixed for the whole measurement",
    "device.batch_size": "images per inference, fixed for the whole measurement",
    "device.precision": "the numbers the network computed with",
    "device.accelerator": "absent for the CPU; `cuda` when the blocks ran eagerly on an NVIDIA GPU (`nas profile "
                          "--accelerator cuda`), `cuda-graph` when each block and network was captured once as a CUDA "
                          "graph and replayed",
    "measurement": "how the blocks and networks were timed",
    "measurement.warmup": "untimed calls before each timing",
    "measurement.repeats": "timed calls per block and network",
    "measurement.rounds": "interleaved passes the timed calls were split over",
    "measurement.statistic": "the entry column predictions use (`min` on a shared machine, whose median drifts)",
    "measurement.unit": "the only unit accepted",
    "measurement.measured_at": "when it was measured (for merged sessions, the last of them)",
    "measurement.tool": "the tool and version that measured",
    "measurement.duration_s": "seconds the whole profiling took",
    "measurement.allocator": "how the C heap was set while timing, e.g. `glibc 2.36 malloc, mmap threshold 256 MiB, "
                             "trim threshold 1024 MiB`; absent: the C library's defaults, or not recorded",
    "measurement.sessions": "a profile merged from sessions measured at different times (`nas merge-profiles`): "
                            "when each was measured; every entry, `overhead_ms` and network time is then the median "
                            "over the sessions",
    "search_space": "a registered space (`nas spaces`)",
    "resolutions": "input resolutions covered, a subset of the space's",
    "num_classes": "classifier width the head keys were measured with",
    "entries": "one entry per block key (`*`), exactly the keys of `space.all_blocks(resolutions, num_classes)`",
    "entries.*": "one block's timing after `overhead_ms` was taken off",
    "entries.*.p50": "median of the timed calls",
    "entries.*.mean": "mean of the timed calls",
    "entries.*.std": "standard deviation of the timed calls",
    "entries.*.min": "fastest timed call; required when the statistic is `min`",
    "entries.*.count": "timed calls (summed over sessions in a merged profile)",
    "overhead_ms": "the runtime's fixed cost per inference (an identity model), added once per network",
    "calibration": "the fit of the summed table on whole networks measured end to end",
    "calibration.a": "the scale of the sum",
    "calibration.b": "the intercept",
    "calibration.fit_on": "networks the fit used",
    "calibration.method": "how it was fitted",
    "calibration.kind_scales": "one scale per block kind (`*`), for exactly the kinds of the profile's keys "
                               "(see \"Per-kind scales\")",
    "calibration.structure": "schema 4: one coefficient per structural feature of the space "
                             "(`space.structure_feature_names`; NAS-Bench-201: `cut_off`, `dead_<op>`, "
                             "`no_output`, `unread_<op>`)",
    "calibration.networks": "the networks the fit used",
    "calibration.networks[].arch": "the network's canonical string",
    "calibration.networks[].measured_ms": "its time, measured end to end",
    "calibration.networks[].predicted_ms": "what the profile predicts for it",
    "validation": "how the calibrated table did on networks it was not fitted on",
    "validation.method": "`held-out` (a separate set, what `nas profile` measures), or `leave-one-out` and `k-fold` "
                         "(each measured network predicted by a fit without it: a fitted profile)",
    "validation.n": "networks validated on",
    "validation.mape": "mean absolute percentage error, a fraction",
    "validation.within_10pct": "share predicted within +-10%",
    "validation.spearman": "Spearman's rank correlation of predicted and measured",
    "validation.max_ape": "the largest absolute percentage error, a fraction",
    "validation.networks": "the networks validated on",
    "validation.networks[].arch": "the network's canonical string",
    "validation.networks[].measured_ms": "its time, measured end to end",
    "validation.networks[].predicted_ms": "what the profile predicts for it",
    "speed_check": "schema 3 and later: written by `nas speed-check` (see \"Speed checks\"); every prediction is "
                   "multiplied by `factor`",
    "speed_check.factor": "the median over the networks of (time now / time recorded)",
    "speed_check.measured_at": "when the networks were timed again",
    "speed_check.networks": "calibration networks timed again",
    "speed_check.low": "the smallest of their ratios",
    "speed_check.high": "the largest of their ratios",
    "speed_check.tool": "the tool and version that timed them",
    "fit": "schema 4: a profile fitted from whole networks timed end to end (see \"Fitted profiles\")",
    "fit.method": "how it was fitted",
    "fit.n": "networks measured",
    "fit.reference": "the table whose entries it scales, `device/space`",
    "fit.bank": "the bank devices whose fitted coefficients formed the prior (NAS-Bench-201)",
    "fit.tool": "the tool and version that fitted it",
}

INTRO = f"""\
# The latency profile format (schema_version {SCHEMA_VERSION})

<!-- Generated by `python -m nas.latency.format_doc` from nas/latency/schema.py; do not edit by hand. -->

A profile is a lookup table of measured block latencies for one device, one runtime and one search
space, as JSON (`nas profile` writes one; `nas.latency.load_profile` and `POST
/api/v1/devices/{{name}}/profiles` read one). The service predicts a candidate's latency as

    predicted_ms = speed * (a * (overhead_ms + sum of the entries of the candidate's blocks) + b + structure)

where the entries are read under `measurement.statistic`, `a` and `b` come from `calibration`, and
`speed` is `speed_check.factor` when the profile carries one, else 1. With `calibration.kind_scales`
each entry is first multiplied by its block kind's scale; `structure` is the sum of
`calibration.structure`'s coefficients times the candidate's structural features (0 without them). A
block key names the block type and every shape that changes its cost (`nas spaces`,
`space.all_blocks()`), so fusion inside a block is measured, not guessed. A candidate using a key the
profile lacks is an error naming the key, never a silent zero.

## Fields

Unknown fields are refused (a typo would otherwise pass silently). Numbers must be JSON numbers of
the right kind (`true` or `"1.5"` is refused) and finite; times are milliseconds; text never holds a
NUL character. `*` stands for any key of a map, `[]` for every item of a list. `python -m
nas.latency.format_doc --json-schema` prints the same as a JSON Schema.
"""

CHECKS = """\
## Checks beyond each field

- `search_space` must be registered, and `resolutions` among the space's.
- `entries` must hold exactly the space's block keys for those resolutions and `num_classes`: a missing
  or an extra key is refused, naming the keys.
- With the statistic `min`, every entry needs its `min`.
- `calibration.kind_scales` names exactly the kinds of the profile's keys (`space.block_kind(key)`), and
  `calibration.structure` only the space's structural features.
- A field newer than the document's `schema_version` is refused (`kind_scales` needs 2, `speed_check` 3,
  `fit`, `calibration.structure` and `validation.method` 4).

A document that breaks any rule is refused with one message listing every problem, each naming its
field (for example `entries.mbv3_ir-...-act:relu.p50: must be a finite number, got nan`, or
`entries: 12 of the space's 614 block keys are missing (resolutions [...], 1000 classes): ...`).

## Per-kind scales

A block's kind is its type plus the field that picks its operation, never its shape:
`nb201_edge[op=avg_pool_3x3]`, `mf_block[mixer=attention]`, `mbv3_ir`, `spos_shuffle`
(`space.block_kind(key)`). Timed alone, a block of one kind can misstate its cost inside a network in
its own way: ONNX Runtime fuses a NAS-Bench-201 cell's pooling and 1x1 convolutions with their
neighbours, so those entries overstate them two- to threefold while 3x3 convolutions are about right.
One `a` for every block cannot fix that; one scale per kind can:
`a * (overhead_ms + sum of kind_scales[kind of block] * entry of block) + b`. `nas profile` fits the
scales with `a` held, each pulled towards 1, and keeps them only when, each calibration network left
out in turn, they predict it at least 10% better on average than `a` alone. `nas recalibrate FILE
--out NEW` fits a profile again from the networks it recorded, without timing anything.

## Fitted profiles

A device that cannot run the block profiler times a few whole networks with its own tools (`nas kit`
writes them) and `nas devices fit` (or `POST /api/v1/devices/{name}/measurements`) fits a profile from
them: `entries` are a shipped table's, each raised by 2% of the table's median entry (so a kind that
costs nothing in PyTorch, a skip connection, still counts blocks); `overhead_ms` is 0, `a` 1, `b` the
fitted intercept, `kind_scales` the fitted weight of each kind and `structure` the structural terms.
`fit` says how, and `validation` (leave-one-out) how far to trust it. For NAS-Bench-201 the prior is
`nb201_device_bank.json`: the weights of this model fitted on all 15,625 cells for each of HELP's 27
device settings (`bench/help_latency.py --write-bank` makes it; MIT licence, attribution in the file).

## Merged sessions

A table measured in one session is the device's speed in that quarter of an hour. `nas merge-profiles
A B C --out M` makes one profile of sessions measured at different times with the same flags and the
same calibration and validation networks (the same `--seed`, `--calibration` and `--validation`):
each entry's `p50`, `mean`, `std` and `min`, `overhead_ms` and each network's `measured_ms` is the
median over the sessions (`count` their sum), and the calibration and validation are fitted again on
the medians. Sessions that differ are refused with every difference named; a merged profile is not
merged again.

## Speed checks

`nas speed-check FILE --out NEW` (or `--space S` for a shipped table) times the first `--networks`
(default 10) calibration networks again, whole, with the profile's own settings, and writes the
profile with `speed_check`. It follows a device that runs uniformly faster or slower than when it was
profiled (a shared VM, a phone that throttles); it cannot make a table fit another device, and warns
when the factor is beyond 1.35 (or below 1/1.35) or the ratios spread by more than 1.25x. A
speed-checked profile is not merged, and `nas recalibrate` keeps the check.
"""


def fields(schema: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict, bool]]:
    """(dotted path, its schema, required) for every field of an object schema, depth first."""
    required = set(schema.get("required", ()))
    for name, spec in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        yield path, spec, name in required
        yield from _inside(_resolved(spec, defs), defs, path)


def _inside(spec: dict[str, Any], defs: dict[str, Any], path: str) -> Iterator[tuple[str, dict, bool]]:
    """The fields of what ``spec`` holds: an object's, a map's values' (``*``), a list's items' (``[]``)."""
    if "properties" in spec:
        yield from fields(spec, defs, f"{path}.")
    values = spec.get("additionalProperties")
    if isinstance(values, dict) and "$ref" in values:
        yield f"{path}.*", values, True
        yield from _inside(_resolved(values, defs), defs, f"{path}.*")
    items = spec.get("items")
    if isinstance(items, dict) and "$ref" in items:
        yield from fields(_resolved(items, defs), defs, f"{path}[].")


def _resolved(spec: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """``spec`` without its optional ``null`` and with its ``$ref`` followed."""
    options = [s for s in spec.get("anyOf", [spec]) if s.get("type") != "null"]
    inner = options[0] if len(options) == 1 else spec
    return defs[inner["$ref"].rsplit("/", 1)[1]] if "$ref" in inner else inner


def type_of(spec: dict[str, Any], defs: dict[str, Any]) -> str:
    spec = _resolved(spec, defs)
    if "const" in spec:
        return f"`{json.dumps(spec['const'])}`"
    if "enum" in spec:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in spec["enum"])
    kind = spec.get("type", "object")
    if kind == "string" and spec.get("format") == "date-time":
        return "ISO 8601 date-time"
    if kind == "array":
        return f"list of {type_of(spec['items'], defs)}"
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        return f"map of {type_of(spec['additionalProperties'], defs)}"
    return kind


BOUNDS = (("minimum", ">= {}"), ("exclusiveMinimum", "> {}"), ("maximum", "<= {}"), ("exclusiveMaximum", "< {}"),
          ("pattern", "matches `{}`"))
SIZES = (("minLength", "maxLength", "characters"), ("minItems", "maxItems", "items"))


def _sizes(source: dict[str, Any]) -> Iterator[str]:
    for low, high, unit in SIZES:
        if low in source and high in source:
            yield f"{source[low]}-{source[high]} {unit}"
        elif low in source:
            yield f"at least {source[low]} {unit}"
        elif high in source:
            yield f"at most {source[high]} {unit}"


def rules(spec: dict[str, Any], defs: dict[str, Any], required: bool) -> str:
    """Required or optional (with its default), then the bounds of the value, or of a map's or list's values."""
    said = ["required" if required else "optional"]
    if not required and spec.get("default") not in (None, [], {}):
        said[0] += f", default `{json.dumps(spec['default'])}`"
    inner = _resolved(spec, defs)
    for source in (inner, inner.get("additionalProperties"), inner.get("items")):
        if isinstance(source, dict) and "$ref" not in source:
            said += [text.format(source[key]) for key, text in BOUNDS if key in source]
            said += _sizes(source)
    return "; ".join(said)


def render() -> str:
    """FORMAT.md as it should be; ``KeyError`` naming the fields without a meaning, or the meanings without a field."""
    schema = Profile.model_json_schema()
    defs = schema.pop("$defs", {})
    rows = list(fields(schema, defs))
    paths = [path for path, _, _ in rows]
    unexplained, orphaned = sorted(set(paths) - MEANINGS.keys()), sorted(MEANINGS.keys() - set(paths))
    if unexplained or orphaned:
        raise KeyError(f"nas.latency.format_doc.MEANINGS: no meaning for {unexplained}; no such field: {orphaned}")
    table = ["| field | type | rules | meaning |", "|---|---|---|---|"]
    table += [f"| `{path}` | {type_of(spec, defs)} | {rules(spec, defs, required)} | {MEANINGS[path]} |"
              for path, spec, required in rows]
    return INTRO + "\n" + "\n".join(table) + "\n\n" + CHECKS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write latency_tables/FORMAT.md from the profile's schema.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the file is stale")
    parser.add_argument("--json-schema", action="store_true", help="print the profile's JSON Schema instead")
    parser.add_argument("--out", type=Path, default=None, help="default: latency_tables/FORMAT.md")
    args = parser.parse_args(argv)
    if args.json_schema:
        print(json.dumps(Profile.model_json_schema(), indent=1))
        return 0
    out = args.out or default_path()
    text = render()
    if args.check:
        current = out.read_text() if out.exists() else ""
        print(f"{out} is {'current' if current == text else 'stale: run python -m nas.latency.format_doc'}")
        return 0 if current == text else 1
    out.write_text(text)
    print(f"wrote {out}")
    return 0


def default_path() -> Path:
    import latency_tables

    return Path(latency_tables.__file__).parent / "FORMAT.md"


if __name__ == "__main__":
    sys.exit(main())
