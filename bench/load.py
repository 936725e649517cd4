"""A bounded load test of the REST service on loopback: 100 pollers and 10 submitters (locust).

A fresh ``nas serve`` (its own session, ``NAS_DATA_DIR`` and Ray temp dir, ``NAS_HOST=127.0.0.1``,
``NAS_PORT`` a free port; searches run on its local Ray) gets ``--seeded`` small searches
(``--space``, ``--budget``), and the run starts once one of them has succeeded, so the pollers have
candidates to list. Then ``locust --headless`` runs ``bench/locustfile.py`` for ``--seconds``: exactly
100 pollers (``GET /searches/{id}`` and ``/candidates``, every 0.5-1.5 s) and 10 submitters (``POST
/searches``, every 2-5 s, seeds counting on), all started within 6 s (20 users/s). Searches go on
running meanwhile: the service answers on the same cores its evaluations use.

Printed: per request, the count, the failures, p50 and p99 (ms, from locust's CSV stats, which the
locustfile writes when locust quits; locust rounds times over 100 ms to two significant digits) and
the count of each status class. A 4xx is an answer the API promises (429: the queue is full,
``NAS_MAX_QUEUED_SEARCHES``); a 5xx or a request without an answer is a failure: the exit status is 1
and the service log's 5xx lines and first traceback are printed.

locust is not a project dependency: it runs from a virtual environment of its own, made once from
PyPI under ``~/.cache/hwnas/locust/``. The service is stopped with SIGTERM and its temp dir removed,
also when the bench fails or is interrupted.

    .venv/bin/python bench/load.py [--seconds 60] [--seeded 3] [--space nasbench201] [--budget 8] \
        [--seed 0] [--quick] [--write]
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import _harness as h
from service import FINAL, http

from nas.testing.serve import ServeProcess, free_port, isolated_env

LOCUST = "locust==2.47.0"
# Kept in the user's cache (as pip keeps its downloads), so a fresh clone does not install it again.
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
LOCUST_ENV = CACHE / "hwnas" / "locust" / LOCUST.split("==")[1]
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
POLLERS, SUBMITTERS, SPAWN_RATE = 100, 10, 20
CLASSES = ("2xx", "4xx", "5xx", "no answer")


def locust() -> Path:
    """The locust command, installed from PyPI into ``LOCUST_ENV`` on first use."""
    command, installed = LOCUST_ENV / "bin" / "locust", LOCUST_ENV / "installed"
    if not installed.exists():
        print(f"installing {LOCUST} into {LOCUST_ENV} (once)...", flush=True)
        shutil.rmtree(LOCUST_ENV, ignore_errors=True)  # what an interrupted install left
        subprocess.run([sys.executable, "-m", "venv", str(LOCUST_ENV)], check=True, timeout=120)
        subprocess.run([str(LOCUST_ENV / "bin" / "pip"), "install", "--quiet", LOCUST], check=True, timeout=900)
        installed.touch()
    return command


def seed_searches(api: str, args) -> list[int]:
    """Queue ``--seeded`` searches; their ids once one has succeeded."""
    ids = []
    for seed in range(args.seed, args.seed + args.seeded):
        status, body = http("POST", f"{api}/searches", {"space": args.space, "budget": args.budget, "seed": seed})
        if status != 202:
            raise RuntimeError(f"seeding: POST /searches answered {status}: {body}")
        ids.append(body["id"])
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        found = [http("GET", f"{api}/searches/{i}")[1]["status"] for i in ids]
        if "succeeded" in found:
            return ids
        if all(s in FINAL for s in found):
            raise RuntimeError(f"seeding: no search succeeded ({found})")
        time.sleep(1)
    raise RuntimeError(f"seeding: no search succeeded within {args.timeout:.0f} s")


def run_locust(args, base: str, ids: list[int], folder: Path) -> tuple[list[dict], dict[str, Counter]]:
    """locust's CSV stats rows and, per request name, the count of each status class."""
    env = {**os.environ, "LOAD_SEARCH_IDS": ",".join(map(str, ids)), "LOAD_STATUS_FILE": str(folder / "statuses.json"),
           "LOAD_STATS_CSV": str(folder / "stats.csv"),
           "LOAD_SEED": str(args.seed + args.seeded), "LOAD_SPACE": args.space, "LOAD_BUDGET": str(args.budget),
           "LOAD_POLLERS": str(POLLERS), "LOAD_SUBMITTERS": str(SUBMITTERS)}
    command = [str(locust()), "-f", str(LOCUSTFILE), "--headless", "-u", str(POLLERS + SUBMITTERS),
               "-r", str(SPAWN_RATE), "--run-time", f"{args.seconds}s", "--stop-timeout", "10", "--host", base,
               "--only-summary"]
    with open(folder / "locust.log", "wb") as log:
        done = subprocess.run(command, check=False, stdout=log, stderr=subprocess.STDOUT, env=env,
                              timeout=args.seconds + 300)
    stats = folder / "stats.csv"
    if not stats.exists() or not (folder / "statuses.json").exists():
        raise RuntimeError(f"locust exited {done.returncode} without its stats:\n"
                           + (folder / "locust.log").read_text(errors="replace")[-3000:])
    with open(stats, newline="") as f:
        rows = list(csv.DictReader(f))
    classes: dict[str, Counter] = {}
    for name, code, n in json.loads((folder / "statuses.json").read_text()):
        kind = f"{code // 100}xx" if code else "no answer"
        for key in (name, "Aggregated"):
            classes.setdefault(key, Counter())[kind] += n
            if code == 429:
                classes[key]["429"] += n
    return rows, classes


def first_traceback(log: str, lines: int = 60) -> str:
    text = log.splitlines()
    errors = [line for line in text if '" 5' in line and "HTTP/1.1" in line]
    start = next((i for i, line in enumerate(text) if line.startswith("Traceback")), None)
    return "\n".join(errors[:10] + ([] if start is None else ["", *text[start:start + lines]]))


def report(args, rows: list[dict], classes: dict[str, Counter], facts: dict,
           searches: Counter) -> tuple[list[str], bool]:
    table_rows, failed = [], False
    for row in rows:
        name, seen = row["Name"], classes.get(row["Name"], Counter())
        failed |= seen["5xx"] + seen["no answer"] > 0 or int(row["Failure Count"]) > 0
        four = f"{seen['4xx']}" + (f" (429: {seen['429']})" if seen["429"] else "")
        label = "**all**" if name == "Aggregated" else f"`{name}`"
        table_rows.append([label, row["Request Count"], row["Failure Count"], row["50%"], row["99%"],
                           f"{float(row['Requests/s']):.1f}", seen["2xx"], four, seen["5xx"], seen["no answer"]])
    total = classes.get("Aggregated", Counter())
    lines = [(f"`bench/load.py --seconds {args.seconds}`: {POLLERS} pollers (`GET /searches/{{id}}` twice as often as "
              f"`/candidates`, every 0.5-1.5 s) and {SUBMITTERS} submitters (`POST /searches`, {args.space} budget "
              f"{args.budget}, every 2-5 s) for {args.seconds} s against one `nas serve` on loopback, its searches "
              f"running on local Ray on the same {facts['cores']} cores (and locust too); load average at the start "
              f"{' / '.join(f'{x:.2f}' for x in facts['load_avg'])}. Times in ms."), "",
             *h.table(["request", "count", "failures", "p50 ms", "p99 ms", "req/s", "2xx", "4xx", "5xx", "no answer"],
                      table_rows), "",
             (f"{'**5xx or unanswered requests: FAIL**' if failed else 'No 5xx and no request without an answer'}; "
              f"{total['4xx']} 4xx ({total['429']} of them 429, the queue full); searches at the end: "
              + ", ".join(f"{n} {s}" for s, n in sorted(searches.items())) + ".")]
    return lines, failed


def main() -> int:
    parser = h.parser(__doc__, seed=0, quick={"seconds": 10})
    parser.add_argument("--seconds", type=int, default=60, help="locust's run time (default 60)")
    parser.add_argument("--seeded", type=int, default=3, help="searches queued before the run (default 3)")
    parser.add_argument("--space", default="nasbench201")
    parser.add_argument("--budget", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=600, help="seconds for start-up and the seeded searches")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the service is stopped, its dir removed
    locust()
    facts = h.facts()
    folder, port = Path(tempfile.mkdtemp(prefix="nas-load-", dir="/tmp")), free_port()  # short: Ray's sockets
    env = isolated_env(folder / "var", {"RAY_TMPDIR": str(folder / "ray"), "NAS_HOST": "127.0.0.1",
                                        "NAS_PORT": str(port)})
    service, failed = ServeProcess(env, folder / "serve.log", port=port, new_session=True), True
    try:
        print(f"starting nas serve on {service.url}...", flush=True)
        service.start(args.timeout)
        print(f"seeding {args.seeded} searches ({args.space}, budget {args.budget})...", flush=True)
        ids = seed_searches(service.api, args)
        print(f"running locust: {POLLERS} pollers + {SUBMITTERS} submitters for {args.seconds} s...", flush=True)
        rows, classes = run_locust(args, service.url, ids, folder)
        searches = Counter(s["status"] for s in http("GET", f"{service.api}/searches?limit=1000")[1])
        lines, failed = report(args, rows, classes, facts, searches)
    finally:
        if failed:
            print(f"service log ({service.log_path}):\n" + (first_traceback(service.log_tail(10**6))
                                                            or service.log_tail()), file=sys.stderr)
        handlers = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        stopped = service.stop(signal.SIGTERM, grace=60)
        shutil.rmtree(folder, ignore_errors=True)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        print(f"service stopped (SIGTERM): {'forced' if stopped is None else f'gracefully in {stopped:.1f} s'}"
              + ("; processes left in its session were killed" if service.left_behind else ""))
    print("\n" + "\n".join(lines))
    print(f"\n{facts['date']}; {facts['cpu']}, {facts['cores']} cores; Python {facts['python']}")
    h.publish(args, "load", "Load test (bench/load.py)", "\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
