"""Proxy cost: time and peak memory per candidate, each proxy alone and the whole suite.

For each space, a published network written in the space (MobileNetV3-Large, PoolFormer-S12, SPOS's
searched model, a top NAS-Bench-201 cell) at the space's default resolution and proxy batch size, on
real CIFAR-10 images. Each measurement runs in a fresh process (so peak RSS is its own) after one
warm-up call; the figure is the median of --repeats calls. The suite's speed-up is the sum of the
proxies alone over the suite through the engine, which shares passes.

With ``--reference``, instead: the engine side by side with the reference package (alethiometer, the
foresight proxies), on the same sampled candidates, data and proxies, interleaved in one process with the
order rotated, after one warm-up call of each. The reference is installed into a temporary folder for the
run only; it is never a project dependency. A third way adds ``DEFAULT_ENSEMBLE``'s proxies to ours, the
cost of the new proxies joining the shared passes.

    .venv/bin/python bench/proxies.py [--spaces mobilenetv3,nasbench201] [--repeats 1] [--quick] [--write]
    .venv/bin/python bench/proxies.py --reference [--spaces mobilenetv3] [--candidates 3] [--batch 32]
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import types
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


REFERENCE = "alethiometer==1.1.2"
REFERENCE_NAMES = {"synflow": "synflow", "snip": "snip", "grad_norm": "grad_norm", "grasp": "grasp",
                   "naswot": "nwot_relu"}  # ours -> the reference's (its nwot_relu is the paper's ReLU form)
WAYS = ("ours", "reference", "ours + ensemble")


def import_reference(folder: str):
    """The reference from ``folder``. Its package imports its dataset helpers, which need torchvision
    (absent here, and unused: the bench hands it the batch), so a stand-in module takes their place."""
    sys.path.insert(0, folder)
    stand_in = types.ModuleType("alethiometer.datasets")
    stand_in.get_cifar_dataloaders = stand_in.get_mnist_dataloaders = None
    sys.modules.setdefault("alethiometer.datasets", stand_in)
    import alethiometer

    return alethiometer


def side_by_side(folder: str, space_name: str, count: int, batch: int, names: list[str], repeats: int,
                 seed: int) -> dict:
    """Run in a child: seconds of each way on each sampled candidate, per repeat, interleaved."""
    import torch

    import nas.proxies as proxies
    import searchspaces

    reference = import_reference(folder)
    space = searchspaces.get(space_name)
    rng = random.Random(seed)
    archs = [space.sample(rng) for _ in range(count)]
    data = [proxies.cifar10_data(batch, space.resolution(arch)) for arch in archs]
    theirs = [REFERENCE_NAMES[name] for name in names]
    with_ensemble = list(dict.fromkeys([*names, *proxies.DEFAULT_ENSEMBLE]))

    def run(way: str, index: int, size: int = batch) -> None:
        build = lambda: space.build(archs[index], num_classes=10)  # noqa: E731
        inputs, targets = data[index].inputs[:size], data[index].targets[:size]
        if way == "reference":
            torch.manual_seed(0)
            reference.calc_zc_metrics(theirs, build(), [(inputs, targets)], torch.device("cpu"))
        else:
            proxies.compute(build, inputs, targets, names if way == "ours" else with_ensemble)

    for way in WAYS:  # warm-up: imports, kernels, allocator
        run(way, 0, 4)
    seconds = {way: [[0.0] * count for _ in range(repeats)] for way in WAYS}
    for repeat in range(repeats):
        for index in range(count):
            for way in h.rotated(WAYS, repeat + index):
                seconds[way][repeat][index] = h.timed(run, way, index)[0]
                print(f"  repeat {repeat + 1} candidate {index + 1} {way:<16}{seconds[way][repeat][index]:7.2f} s",
                      file=sys.stderr, flush=True)
    return {"archs": [space.encode(arch) for arch in archs], "seconds": seconds,
            "threads": torch.get_num_threads(), "resolution": [d.inputs.shape[-1] for d in data]}


def against_reference(parser, args, names: list[str]) -> None:
    """Install the reference into a temporary folder, run ``side_by_side`` per space, print the ratios."""
    unknown = [name for name in names if name not in REFERENCE_NAMES]
    if unknown:
        raise SystemExit(f"--proxies: the reference has no {', '.join(unknown)}; "
                         f"compare among {', '.join(REFERENCE_NAMES)}")
    measured = {}
    with tempfile.TemporaryDirectory(prefix="hwnas-reference-") as folder:
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", folder,
                              REFERENCE], capture_output=True, text=True)
        if pip.returncode:
            raise SystemExit(f"could not install {REFERENCE} into a temporary folder:\n{pip.stderr}")
        for space_name in h.spaces(parser, args.spaces):
            call = (f"side_by_side({folder!r}, {space_name!r}, {args.candidates:d}, {args.batch:d}, {names!r}, "
                    f"{args.repeats:d}, {args.seed:d})")
            code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                    f"from proxies import side_by_side; print(json.dumps({call}))")
            out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, check=True)
            measured[space_name] = result = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"\n{space_name}: {args.candidates} candidates (seed {args.seed}), batch {args.batch}, "
                  f"{result['threads']} threads; {', '.join(names)}")
            for way in WAYS:
                totals = [sum(row) for row in result["seconds"][way]]
                print(f"  {way:<16} per repeat {' '.join(f'{t:6.1f}' for t in totals)} s")
            for way in ("ours", "ours + ensemble"):
                print(f"  {way} / reference: {ratio_text(result, way)}")
    h.publish(args, "proxies_reference", "Proxy engine against the reference package",
              reference_section(args, names, measured))


def ratios(result: dict, way: str) -> list[float]:
    """One ratio per repeat: the way's total seconds over the reference's, same candidates, same repeat."""
    return [sum(ours) / sum(theirs) for ours, theirs in zip(result["seconds"][way], result["seconds"]["reference"])]


def ratio_text(result: dict, way: str) -> str:
    values = ratios(result, way)
    return f"{h.median(values):.2f}x (repeats {min(values):.2f}-{max(values):.2f}x)"


def reference_section(args, names: list[str], measured: dict) -> str:
    from nas.proxies import DEFAULT_ENSEMBLE

    added = ", ".join(name for name in DEFAULT_ENSEMBLE if name not in names)
    header = ["space", "ours (median s per repeat)", "reference", "ours / reference", f"ours + {added} / reference"]
    cells = []
    for space, result in measured.items():
        totals = {way: h.median(sum(row) for row in result["seconds"][way]) for way in WAYS}
        cells.append([space, f"{totals['ours']:.1f}", f"{totals['reference']:.1f}",
                      f"**{ratio_text(result, 'ours')}**", ratio_text(result, "ours + ensemble")])
    note = (f"`bench/proxies.py --reference --candidates {args.candidates} --batch {args.batch} --repeats "
            f"{args.repeats} --seed {args.seed}`: {', '.join(names)} on each sampled candidate through "
            f"`nas.proxies.compute` (one call, shared passes) and through {REFERENCE} (`calc_zc_metrics`, its "
            "`nwot_relu` for our naswot), on the same real CIFAR-10 batch, interleaved in one process with the "
            "order rotated after one warm-up call of each; a ratio per repeat (total over the candidates), "
            "its median and range. The last column adds DEFAULT_ENSEMBLE's other proxies to ours.")
    archs = "\n".join(f"- {space}: " + ", ".join(f"`{arch}`" for arch in result["archs"])
                      for space, result in measured.items())
    return note + "\n\n" + "\n".join(h.table(header, cells)) + "\n\nThe candidates:\n\n" + archs


def main() -> None:
    import nas.proxies as proxies
    import searchspaces

    parser = h.parser(__doc__, seed=0, quick={"spaces": "nasbench201", "proxies": "synflow,naswot",
                                             "candidates": 1, "batch": 8})
    parser.add_argument("--spaces", help="default: all; with --reference, mobilenetv3")
    parser.add_argument("--proxies", help="default: all; with --reference, the five it shares with ours")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--reference", action="store_true", help=f"side by side with {REFERENCE}")
    parser.add_argument("--candidates", type=int, default=3, help="with --reference: sampled candidates")
    parser.add_argument("--batch", type=int, default=32, help="with --reference: images per proxy batch")
    args = parser.parse_args()
    args.spaces = args.spaces or ("mobilenetv3" if args.reference else ",".join(searchspaces.names()))
    args.proxies = args.proxies or ",".join(REFERENCE_NAMES if args.reference else proxies.names())
    names = h.names(parser, args.proxies, proxies.names(), "--proxies")
    if args.reference:
        return against_reference(parser, args, names)
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
