"""Time the networks of a measurement kit with ONNX Runtime and write their times as a CSV.

Copied into each kit as ``measure.py`` by ``nas kit``; it needs only Python 3.9+, onnxruntime and
numpy (``pip install onnxruntime numpy``), nothing of the nas package, so it runs on the device:

    python measure.py --threads 4

Each network runs at batch 1 on a random input of its ``input_shape``, on ONNX Runtime's CPU provider
with ``--threads`` intra-op threads, one inter-op thread, sequential execution. After ``--warmup``
untimed calls per network, the networks are timed round-robin over ``--rounds`` rounds of
``--repeats`` calls each, so that the device's drift (clock, heat, other work) spreads over all of
them rather than biasing the last; each network's time is the median of all its calls. The CSV has
columns ``arch,ms`` (ms with 4 decimals): give it to ``nas devices fit NAME --space S --measurements``.

A device whose own runtime (TensorRT, TFLite, an NPU's SDK) is what it deploys with is better timed by
that tool on the kit's ``.onnx`` files: write the same two columns by hand.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

KIT_VERSION = 1
INSTALL = "pip install onnxruntime numpy"


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time a measurement kit's networks with ONNX Runtime.")
    parser.add_argument("--kit", type=Path, default=Path(__file__).resolve().parent,
                        help="the kit folder, holding kit.json (default: this script's folder)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads, as deployed (default 1)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls per network first (default 10)")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per network per round (default 30)")
    parser.add_argument("--rounds", type=int, default=3, help="round-robin passes over the networks (default 3)")
    parser.add_argument("--out", type=Path, default=None, help="CSV to write (default: KIT/measurements.csv)")
    args = parser.parse_args(argv)
    for name, least in (("threads", 1), ("warmup", 0), ("repeats", 1), ("rounds", 1)):
        if getattr(args, name) < least:
            parser.error(f"--{name} must be at least {least}, got {getattr(args, name)}")
    return args


def load_kit(folder: Path) -> dict:
    path = folder / "kit.json"
    if not path.is_file():
        fail(f"no kit.json in {str(folder)!r}: pass --kit with the folder `nas kit` wrote")
    try:
        kit = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        fail(f"cannot read {path}: {error}")
    if not isinstance(kit, dict) or kit.get("kit_version") != KIT_VERSION or not isinstance(kit.get("networks"), list):
        fail(f"{path} is not a kit of version {KIT_VERSION}; make it again with this version of `nas kit`")
    for network in kit["networks"]:
        if not (folder / network["file"]).is_file():
            fail(f"the kit lacks {network['file']} (listed in kit.json); copy the whole folder")
    return kit


def open_sessions(kit: dict, folder: Path, threads: int) -> list:
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as error:
        fail(f"this script needs onnxruntime and numpy ({error}): {INSTALL}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    rng = np.random.default_rng(0)
    sessions = []
    for network in kit["networks"]:
        session = ort.InferenceSession(str(folder / network["file"]), options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: rng.standard_normal(network["input_shape"], dtype=np.float32)}
        sessions.append((session, feed))
    return sessions


def time_networks(kit: dict, sessions: list, warmup: int, repeats: int, rounds: int) -> list[float]:
    """The median time in ms of each network over all its timed calls."""
    for session, feed in sessions:
        for _ in range(warmup):
            session.run(None, feed)
    calls: list[list[float]] = [[] for _ in sessions]
    count = len(sessions)
    for round_ in range(1, rounds + 1):
        for i, (session, feed) in enumerate(sessions):
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                session.run(None, feed)
                times.append((time.perf_counter() - start) * 1e3)
            calls[i] += times
            print(f"round {round_}/{rounds}, network {i + 1}/{count} ({kit['networks'][i]['file']}): "
                  f"median {statistics.median(times):.3f} ms", file=sys.stderr, flush=True)
    return [statistics.median(found) for found in calls]


def write_csv(path: Path, archs: list[str], times: list[float]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)  # quotes an arch with commas (MobileNetV3's layers)
        writer.writerow(["arch", "ms"])
        for arch, ms in zip(archs, times):
            writer.writerow([arch, f"{ms:.4f}"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = args.kit
    kit = load_kit(folder)
    sessions = open_sessions(kit, folder, args.threads)
    times = time_networks(kit, sessions, args.warmup, args.repeats, args.rounds)
    out = args.out or folder / "measurements.csv"
    write_csv(out, [network["arch"] for network in kit["networks"]], times)
    print(f"wrote {out}: {len(times)} networks of {kit.get('space')}, median of {args.rounds * args.repeats} "
          f"calls each, {args.threads} thread(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
