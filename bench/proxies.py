"""Proxy cost: time and peak memory per candidate, each proxy alone and the whole suite.

For each space, a published network written in the space (MobileNetV3-Large, PoolFormer-S12, SPOS's
searched model, a top NAS-Bench-201 cell) at the space's default resolution and proxy batch size, on
real CIFAR-10 images. Each measurement runs in a fresh process (so peak RSS is its own) after one
warm-up call; the figure is the median of --repeats calls. The suite's speed-up is the sum of the
proxies alone over the suite through the engine, which shares passes.

    .venv/bin/python bench/proxies.py [--spaces mobilenetv3,nasbench201] [--repeats 1] [--quick] [--write]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import _harness as h


def reference_arch(space_name: str) -> str:
    """The first published network of the space (see ``SearchSpace.published``)."""
    import searchspaces

    return next(iter(searchspaces.get(space_name).published.values()))


def measure(space_name: str, names: list[str], repeats: int) -> dict:
    """Run in a child process: median seconds of ``repeats`` calls and the peak RSS increase."""
    import resource

    import torch

    import nas.proxies as proxies
    import searchspaces

    space = searchspaces.get(space_name)
    arch = space.decode(reference_arch(space_name))
    data = proxies.cifar10_data(proxies.DEFAULT_BATCH[space_name], space.resolution(arch))
    build = lambda: space.build(arch, num_classes=10)  # noqa: E731
    proxies.compute(build, data.inputs[:4], data.targets[:4], ["macs", "naswot"])  # warm-up
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = [h.timed(proxies.compute, build, data.inputs, data.targets, names)[0] for _ in range(repeats)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": h.median(seconds), "peak_mb": (peak - baseline) / 1024,
            "threads": torch.get_num_threads(), "batch": data.inputs.shape[0],
            "resolution": data.inputs.shape[-1]}


def run_child(space_name: str, names: list[str], repeats: int) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); from proxies import measure; "
            f"print(json.dumps(measure({space_name!r}, {names!r}, {repeats:d})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import nas.proxies as proxies
    import searchspaces

    parser = h.parser(__doc__, quick={"spaces": "nasbench201", "proxies": "synflow,params"})
    parser.add_argument("--spaces", default=",".join(searchspaces.names()))
    parser.add_argument("--proxies", default=",".join(proxies.names()))
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    names = h.names(parser, args.proxies, proxies.names(), "--proxies")
    measured = {}
    for space_name in h.spaces(parser, args.spaces):
        rows = {}
        for name in names:
            rows[name] = run_child(space_name, [name], args.repeats)
            print(f"  {space_name:<12} {name:<10} {rows[name]['seconds']:8.2f} s", flush=True)
        suite = run_child(space_name, names, args.repeats)
        first = next(iter(rows.values()))
        print(f"\n{space_name}: {reference_arch(space_name)}")
        print(f"resolution {first['resolution']}, batch {first['batch']}, {first['threads']} threads")
        print(f"{'proxy':<12}{'seconds':>9}{'peak MB':>9}")
        for name, row in rows.items():
            print(f"{name:<12}{row['seconds']:>9.2f}{row['peak_mb']:>9.0f}")
        total = sum(row["seconds"] for row in rows.values())
        print(f"{'sum alone':<12}{total:>9.2f}")
        print(f"{'suite':<12}{suite['seconds']:>9.2f}{suite['peak_mb']:>9.0f}")
        print(f"speed-up of the shared suite over the sum of its parts: {total / suite['seconds']:.2f}x\n",
              flush=True)
        measured[space_name] = (rows, suite)
    h.publish(args, "proxies", "Proxy cost", doc_section(args, measured))


def doc_section(args, measured: dict[str, tuple[dict, dict]]) -> str:
    """A column per space: each proxy alone, their sum and the whole suite, seconds and peak RSS increase."""
    import searchspaces

    first = {space: next(iter(rows.values())) for space, (rows, _) in measured.items()}
    header = ["proxy", *(f"{space}: {next(iter(searchspaces.get(space).published))} {first[space]['resolution']}, "
                         f"b{first[space]['batch']}" for space in measured)]
    names = list(next(iter(measured.values()))[0])
    cells = [[name, *(f"{rows[name]['seconds']:.2f} s, {rows[name]['peak_mb']:.0f} MB"
                      for rows, _ in measured.values())] for name in names]
    sums = {space: sum(row["seconds"] for row in rows.values()) for space, (rows, _) in measured.items()}
    cells.append(["**sum of the proxies alone**", *(f"{sums[space]:.1f} s" for space in measured)])
    cells.append(["**whole suite (shared passes)**", *(f"**{suite['seconds']:.1f} s, {suite['peak_mb']:.0f} MB**"
                                                        for _, suite in measured.values())])
    cells.append(["speed-up", *(f"{sums[space] / suite['seconds']:.2f}x" for space, (_, suite) in measured.items())])
    note = (f"`bench/proxies.py --repeats {args.repeats}`: each space's first published network at the space's "
            "default resolution and proxy batch, on real CIFAR-10 images; each figure from a fresh process after "
            f"one warm-up call (median of {args.repeats}), with its peak RSS increase.")
    return note + "\n\n" + "\n".join(h.table(header, cells))


if __name__ == "__main__":
    main()
