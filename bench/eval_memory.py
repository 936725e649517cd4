"""Peak memory of one candidate's evaluation, by space, proxy batch and proxies: what the search's cost
caps and the Ray tasks' memory declarations (``nas/search/costs.py``) are derived from.

Each evaluation runs in a fresh Python process (so one peak does not hide another): imports, the
data batch, then ``nas.evaluate.evaluate`` of the largest of 20 sampled candidates (by input
resolution, then parameters).
Reported: the process's resident memory before the evaluation and its peak (``ru_maxrss``), in MB.
Memory, unlike time, hardly moves with the machine's load: one run per cell.

    .venv/bin/python bench/eval_memory.py [--spaces S,..] [--batches 16,64] [--write]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import _harness as h

# None: every registered proxy; "nograsp": every one but grasp (whose second-order pass dominates).
PROXY_SETS = {"synflow": ("synflow",), "grasp": ("grasp",), "nograsp": None, "all": None}
PROBE = r"""
import json, random, resource, sys
import nas.proxies, searchspaces
from nas.evaluate import ProxyConfig, evaluate, load_data
from nas.latency.shipped import reference_table
space_name, batch, names, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
space = searchspaces.get(space_name)
every = tuple(nas.proxies.names())
names = every if names == "all" else tuple(n for n in every if n != "grasp") if names == "nograsp" else tuple(names.split(","))
profile = reference_table(space_name)
rng = random.Random(seed)
archs = [space.sample(rng) for _ in range(20)]
size = lambda a: sum(p.numel() for p in space.build(a, num_classes=profile.num_classes).parameters())
arch = max(archs, key=lambda a: (space.resolution(a), size(a)))
config = ProxyConfig(proxies=names, ensemble=len(names) > 1, batch_size=batch)
data = load_data(config, space, profile.num_classes)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
evaluate(arch, space, config, data, profile)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"before_mb": before, "peak_mb": peak, "resolution": int(space.resolution(arch))}))
"""


def measure(space: str, batch: int, proxies: str, seed: int) -> dict:
    names = proxies if PROXY_SETS[proxies] is None else ",".join(PROXY_SETS[proxies])
    done = subprocess.run([sys.executable, "-c", PROBE, space, str(batch), names, str(seed)], cwd=h.ROOT,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{space} batch {batch} {proxies}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = h.parser(__doc__, seed=0, quick={"spaces": "nasbench201", "batches": "8", "proxies": "synflow"})
    parser.add_argument("--spaces", default="nasbench201,mobilenetv3,shufflenetv2,metaformer")
    parser.add_argument("--batches", default="16,64", help="proxy batches, comma-separated")
    parser.add_argument("--proxies", default="synflow,grasp,nograsp,all", help=f"sets among {', '.join(PROXY_SETS)}")
    parser.add_argument("--out", type=Path, default=h.RESULTS / "eval_memory.json")
    args = parser.parse_args()
    spaces = h.spaces(parser, args.spaces)
    sets = h.names(parser, args.proxies, list(PROXY_SETS), "--proxies")
    batches = [int(b) for b in args.batches.split(",")]
    rows, results = [], []
    for space in spaces:
        for proxies in sets:
            for batch in batches:
                got = measure(space, batch, proxies, args.seed)
                results.append({"space": space, "proxies": proxies, "batch": batch, **got})
                rows.append([space, proxies, batch, got["resolution"], f"{got['before_mb']:.0f}",
                             f"{got['peak_mb']:.0f}", f"{got['peak_mb'] - got['before_mb']:.0f}"])
                print(" | ".join(str(c) for c in rows[-1]), flush=True)
    lines = h.table(["space", "proxies", "proxy batch", "resolution", "before MB", "peak MB", "added MB"], rows)
    print("\n".join(lines))
    h.save(args.out, {"machine": h.facts(), "results": results})
    h.publish(args, "eval_memory", "Peak memory of one evaluation (bench/eval_memory.py)",
              "One process per cell: the largest of 20 sampled candidates (by resolution, then parameters; seed "
              f"{args.seed}); `all`: every registered proxy as one ensemble, `nograsp`: all but grasp.\n\n"
              + "\n".join(lines))


if __name__ == "__main__":
    main()
