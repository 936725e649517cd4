"""The service's overhead: the same search in-process and through the REST service, and a burst.

**Rate.** One search (default: mobilenetv3, budget 200, seed 0, the default strategy and proxy),
run in-process and through the service, alternately, ``--repeats`` times each (medians reported):

- *in-process*: what ``nas search`` does (``Search`` loop, ``stored_evaluator`` on a fresh SQLite
  store so no cache helps, ``LocalEvaluator`` with one worker process per core and one torch thread
  each, progress written after every batch), timed from the first evaluation (the pool's start-up
  included) to the search stored as succeeded (the pool's shutdown included, as in ``nas search``);
- *service*: a fresh ``nas serve`` (a subprocess in its own session, on a free loopback port, with
  its own ``NAS_DATA_DIR`` so its caches are empty, and its own local Ray) gets the same request by
  ``POST /api/v1/searches`` and is polled (``GET /api/v1/searches/{id}``) until the search is final.
  Its rate is counted over the search's own ``started_at..finished_at`` and, as a user sees it, from
  the submit to the poll that saw it final. Its start-up (Ray included, to the first ``/health``
  answer) is measured apart and not counted; ``--settle`` seconds pass between it and the submit.

Both runs write their candidates after every batch with a timestamp, so one analysis splits each
into the first batch (worker start-up: the pool's processes, or Ray's first task importing torch),
the steady batches and the tail (the last write to the final status). CPU seconds are counted per
role (the main process, the evaluation workers, Ray's daemons): on a shared machine they move far
less than wall time. The aim: the service reaches at least 80% of the in-process rate.

**Burst.** A fresh service with ``NAS_MAX_CONCURRENT_SEARCHES=--max-concurrent`` gets ``--burst``
small searches submitted at once (one thread each, released together; seeds 0, 1, ...; the ids say
the order the service took them in), polled until all are final. Checked: every submit got 202,
every search succeeded with its budget evaluated, they started in submission order (``started_at``
sorted like the ids), and never more than the limit ran at once, both from the
``started_at..finished_at`` intervals and from what each poll of ``GET /api/v1/searches?status=running``
listed. The exit status is non-zero when a check or a search fails.

    .venv/bin/python bench/service.py [--space mobilenetv3] [--budget 200] [--seed 0] [--repeats 1] \
        [--strategy tpe] [--proxy synflow] [--burst 20] [--burst-space nasbench201] [--burst-budget 16] \
        [--max-concurrent 2] [--skip-rate] [--skip-burst] [--poll 0.5] [--settle 5] [--out FILE] [--quick] [--write]

Every service (``nas.testing.serve``, as the end-to-end tests start it) is stopped (SIGINT, then
SIGTERM and SIGKILL to its session) and its temp dir removed, also when the bench fails or is
interrupted. Figures, machine facts and the commands go to ``--out`` (JSON; default
``bench/results/service.json``) and the same path with ``.md``; ``--write`` puts the report into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import _harness as h

from nas.testing.serve import ServeProcess, isolated_env, session_processes

FINAL = ("succeeded", "failed", "cancelled")
AIM = 0.8
MAX_BUDGET = 10_000  # the largest page of candidates the store gives: read back in one page


# -- the service as a subprocess ------------------------------------------------------------------
def http(method: str, url: str, body: dict | None = None, timeout: float = 30) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def stamp(iso: str | None) -> float | None:
    return None if iso is None else datetime.fromisoformat(iso).timestamp()


class Service(ServeProcess):
    """``nas serve`` in its own session, data dir and Ray temp dir; ``stop()`` ends all of it."""

    def __init__(self, env: dict[str, str], timeout: float) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="nas-bench-", dir="/tmp"))  # short: Ray's socket paths
        super().__init__(isolated_env(self.dir / "var", {"RAY_TMPDIR": str(self.dir / "ray"), **env}),
                         self.dir / "serve.log", new_session=True)
        timer = h.Timer()
        try:
            self.health = self.start(timeout)
        except BaseException:  # a failed or interrupted start-up leaves nothing behind either
            print(self.log_tail(), file=sys.stderr)
            self.stop()
            raise
        self.start_s = timer.seconds

    def stop(self) -> float | None:
        """SIGINT (uvicorn's graceful stop: the dispatcher, then Ray at exit), SIGTERM if that hangs,
        then SIGKILL to whatever is left in the session; the temp dir goes. Returns the seconds the
        graceful stop took (None: it had to be forced)."""
        # A second Ctrl-C or SIGTERM must not cut the clean-up short.
        handlers = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            graceful = super().stop(signal.SIGINT, grace=30)
            shutil.rmtree(self.dir, ignore_errors=True)
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        return graceful

    def cpu(self) -> dict[int, tuple[str, float]]:
        """CPU seconds so far of each process of the service, with its role: the service itself
        (HTTP, dispatcher, the search loop, the Ray driver), a Ray worker (evaluations), or one of
        Ray's daemons (GCS, raylet, agents, monitors)."""
        out = {}
        for pid, (title, seconds) in session_processes(self.process.pid).items():
            worker = title.startswith("ray::") and not title.endswith("Agent")
            out[pid] = ("main" if pid == self.process.pid else "workers" if worker else "ray_daemons", seconds)
        return out


def cpu_spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per role between two ``Service.cpu`` snapshots (a process that ended between
    them is not counted: none should)."""
    spent = {"main": 0.0, "workers": 0.0, "ray_daemons": 0.0}
    for pid, (role, seconds) in after.items():
        spent[role] += seconds - before.get(pid, (role, 0.0))[1]
    return spent


def poll_until_final(base: str, search_id: int, poll: float, timeout: float) -> tuple[dict, float, list[float]]:
    """The final search, when this poll saw it final (epoch seconds), and each poll's round trip."""
    deadline, trips = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        sent = time.perf_counter()
        status, search = http("GET", f"{base}/searches/{search_id}")
        trips.append(time.perf_counter() - sent)
        if status == 200 and search["status"] in FINAL:
            return search, time.time(), trips
        time.sleep(poll)
    raise RuntimeError(f"search {search_id} not final after {timeout:.0f} s")


# -- one search, two ways ---------------------------------------------------------------------------
def phases(history: list, written: list[float], started: float, finished: float) -> dict:
    """First batch, steady batches and tail of a run, from the write time of each candidate
    (``written``, in evaluation order) and the count after each batch (``history``)."""
    ends = [written[int(count) - 1] for count, _ in history]
    counts = [int(count) for count, _ in history]
    steps = [b - a for a, b in itertools.pairwise(ends)]
    return {
        "first_batch_s": ends[0] - started if ends else None,
        "steady_evals_per_s": (counts[-1] - counts[0]) / (ends[-1] - ends[0]) if len(ends) > 1 else None,
        "median_batch_s": h.median(steps),
        "tail_s": finished - ends[-1] if ends else None,
        "batches": len(ends),
    }


def cpu_seconds(who: int, before: resource.struct_rusage) -> float:
    after = resource.getrusage(who)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def run_in_process(body: dict) -> dict:
    import searchspaces
    from nas.evaluate import load_data
    from nas.search import Search, local_evaluator
    from nas.search.persist import Recorder, stored_evaluator
    from nas.search.request import SearchRequest
    from nas.storage import open_store

    folder = Path(tempfile.mkdtemp(prefix="nas-bench-", dir="/tmp"))
    store = open_store(f"sqlite:///{folder / 'nas.db'}")
    try:
        store.devices.ensure_shipped()
        request = SearchRequest.model_validate(body)
        config = request.to_config()
        record = store.profiles.get(request.device, request.space)
        profile, space = store.profiles.load(record.id), searchspaces.get(request.space)
        data = load_data(config.proxy, space, profile.num_classes)
        search = store.searches.create({**request.model_dump(), "profile_version": record.version},
                                     space=request.space, device=request.device, profile_id=record.id,
                                     strategy=config.strategy, budget=config.budget, seed=config.seed)
        store.searches.update(search.id, status="running")
        workers = max(1, min(os.cpu_count() or 1, config.batch_size))  # as `nas search` chooses
        load, main_before = os.getloadavg()[0], resource.getrusage(resource.RUSAGE_SELF)
        workers_before = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's, once close() reaps them
        started, wall = time.perf_counter(), time.time()
        inner = local_evaluator(space, config.proxy, data, profile, workers=workers, threads=1)
        recorder, runner = Recorder(store, search.id), Search(config)
        try:
            runner.run(stored_evaluator(store, space, config.proxy, data, profile, record.id, inner), progress=recorder)
        finally:
            inner.close()
        recorder(runner)
        store.searches.update(search.id, status="succeeded")
        seconds = time.perf_counter() - started
        cpu = {"main": cpu_seconds(resource.RUSAGE_SELF, main_before),
               "workers": cpu_seconds(resource.RUSAGE_CHILDREN, workers_before), "ray_daemons": 0.0}
        rows = store.candidates.list(search.id, sort="created", descending=False, limit=MAX_BUDGET)
        return {"where": "in-process", "workers": workers, "evaluated": runner.evaluated, "seconds": seconds,
                "evals_per_s": runner.evaluated / seconds, "load_before": load, "cpu_s": cpu,
                **phases(runner.history, [r.created_at.timestamp() for r in rows], wall, wall + seconds)}
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


def run_through_service(body: dict, args: argparse.Namespace) -> dict:
    service = Service({}, args.timeout)
    try:
        time.sleep(args.settle)
        load, cpu_before = os.getloadavg()[0], service.cpu()
        submitted = time.time()
        status, search = http("POST", f"{service.api}/searches", body)
        if status != 202:
            raise RuntimeError(f"POST /searches answered {status}: {search}")
        search, seen, trips = poll_until_final(service.api, search["id"], args.poll, args.timeout)
        cpu = cpu_spent(cpu_before, service.cpu())
        if search["status"] != "succeeded":
            raise RuntimeError(f"search {search['id']} {search['status']}: {search['error']}")
        _, page = http("GET", f"{service.api}/searches/{search['id']}/candidates?sort=created&descending=false"
                              f"&limit={MAX_BUDGET}")
        started, finished = stamp(search["started_at"]), stamp(search["finished_at"])
        n = search["evaluated"]
        result = {
            "where": "service", "evaluated": n, "seconds": finished - started, "evals_per_s": n / (finished - started),
            "user_seconds": seen - submitted, "user_evals_per_s": n / (seen - submitted),
            "queue_wait_s": started - submitted, "noticed_after_s": seen - finished, "load_before": load,
            "polls": len(trips), "poll_ms_median": 1000 * h.median(trips),
            "start_s": service.start_s, "ray": service.health.get("ray"), "cpu_s": cpu,
            **phases(search["history"], [stamp(c["created_at"]) for c in page["items"]], started, finished),
        }
    except BaseException:
        print(service.log_tail(), file=sys.stderr)
        raise
    finally:
        stop_s = service.stop()
    return {**result, "stop_s": stop_s, "processes_left_after_stop": service.left_behind}


def cpu_per_eval(runs: list[dict]) -> str:
    roles = ("main", "workers", "ray_daemons")
    per = {k: h.median(r["cpu_s"][k] / r["evaluated"] for r in runs) for k in roles}
    return f"{sum(per.values()):.3f} s (" + " / ".join(f"{per[k]:.3f}" for k in roles) + ")"


def median_of(runs: list[dict], key: str) -> float | None:
    return h.median(r.get(key) for r in runs)


def rate_section(args: argparse.Namespace, body: dict) -> tuple[dict, list[str]]:
    runs = []
    ways = (("in-process", run_in_process), ("service", lambda b: run_through_service(b, args)))
    for repeat, _, (where, run) in h.interleave(ways, args.repeats, rotate=False):
        print(f"[repeat {repeat + 1}/{args.repeats}] {where}...", flush=True)
        runs.append({"repeat": repeat + 1, **run(body)})
    local = [r for r in runs if r["where"] == "in-process"]
    served = [r for r in runs if r["where"] == "service"]
    base = median_of(local, "evals_per_s")
    summary = {
        "in_process_evals_per_s": base, "service_evals_per_s": median_of(served, "evals_per_s"),
        "service_user_evals_per_s": median_of(served, "user_evals_per_s"),
        "service_start_s": median_of(served, "start_s"), "service_stop_s": median_of(served, "stop_s"),
        "queue_wait_s": median_of(served, "queue_wait_s"), "noticed_after_s": median_of(served, "noticed_after_s"),
    }
    summary["ratio"] = summary["service_evals_per_s"] / base
    summary["user_ratio"] = summary["service_user_evals_per_s"] / base
    summary["ratio_per_repeat"] = [b["evals_per_s"] / a["evals_per_s"] for a, b in zip(local, served)]
    summary["aim_met"] = summary["ratio"] >= AIM
    s, ray = summary, served[0]["ray"]
    lines = [f"### Rate: {describe(body)}; median of {args.repeats}", "",
             ("| run | where | evaluated | seconds | evals/s | first batch s | steady evals/s | median batch s "
              "| tail s | CPU s: main / workers / Ray daemons | load before |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['repeat']} | {r['where']} | {r['evaluated']} | {h.fmt(r['seconds'], '.1f')} | "
              f"{h.fmt(r['evals_per_s'])} | {h.fmt(r['first_batch_s'])} | {h.fmt(r['steady_evals_per_s'])} | "
              f"{h.fmt(r['median_batch_s'])} | {h.fmt(r['tail_s'])} | "
              + " / ".join(h.fmt(r["cpu_s"][k], ".1f") for k in ("main", "workers", "ray_daemons"))
              + f" | {h.fmt(r['load_before'], '.1f')} |" for r in runs]
    lines += [
        "", ("first batch: from the start to its candidates written (worker start-up included); steady: "
             "the later batches; tail: the last write to the final status (in-process: the pool's shutdown)."),
        "", f"- in-process: **{h.fmt(base)} evals/s** ({local[0]['workers']} worker processes, 1 torch thread each)",
        (f"- service, the search's started_at..finished_at: **{h.fmt(s['service_evals_per_s'])} evals/s = "
         f"{s['ratio']:.2f}x in-process** (aim >= {AIM:.2f}x: {'met' if s['aim_met'] else 'MISSED'}; per repeat "
         + ", ".join(f"{x:.2f}x" for x in s["ratio_per_repeat"]) + ")"),
        (f"- service, submit to the poll that saw it final (every {args.poll} s): "
         f"{h.fmt(s['service_user_evals_per_s'])} evals/s = {s['user_ratio']:.2f}x; queue wait "
         f"{h.fmt(s['queue_wait_s'])} s, final seen {h.fmt(s['noticed_after_s'])} s after finishing, "
         f"a poll took {h.fmt(median_of(served, 'poll_ms_median'), '.1f')} ms"),
        ("- CPU seconds per evaluation (main process / evaluation workers / Ray's daemons; less noisy than "
         "wall time on a shared machine): in-process " + cpu_per_eval(local) + "; service " + cpu_per_eval(served)),
        (f"- service start-up to /health (Ray included; not counted above): {h.fmt(s['service_start_s'], '.1f')} s; "
         f"graceful stop {h.fmt(s['service_stop_s'], '.1f')} s; Ray {ray}"
         + ("" if ray and ray.get("cpus") == os.cpu_count() else f" (NOT the {os.cpu_count()} cores of this machine)")
         + (" (processes were left in its session: killed)" if any(r["processes_left_after_stop"] for r in served)
            else "")),
    ]
    return {"runs": runs, "summary": summary}, lines


# -- the burst --------------------------------------------------------------------------------------
def max_overlap(intervals: list[tuple[float, float]]) -> int:
    # A finish sorts before a start at the same instant: the dispatcher frees a slot, then fills it.
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals], key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def submit_at_once(base: str, bodies: list[dict]) -> list[tuple[int, object]]:
    """POST every body from its own thread, all released together; the answers in body order."""
    answers: list = [(0, "not sent")] * len(bodies)
    gate = threading.Barrier(len(bodies))

    def submit(i: int) -> None:
        gate.wait()
        try:
            answers[i] = http("POST", f"{base}/searches", bodies[i])
        except OSError as error:  # no answer at all: a failed submit
            answers[i] = (0, str(error))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def watch(base: str, ids: list[int], poll: float, timeout: float) -> tuple[list[dict], list[int]]:
    """Poll until every search of ``ids`` is final (or ``timeout``): the searches, in id order, and
    how many searches ``GET /searches?status=running`` listed at each poll."""
    running_seen, deadline = [], time.monotonic() + timeout
    while True:
        code_running, running = http("GET", f"{base}/searches?status=running&limit=1000")
        code_every, every = http("GET", f"{base}/searches?limit=1000")
        if code_running != 200 or code_every != 200:
            raise RuntimeError(f"GET /searches answered {code_running} and {code_every}: {running} {every}")
        running_seen.append(len(running))
        mine = {s["id"]: s for s in every if s["id"] in ids}
        if all(s["status"] in FINAL for s in mine.values()) or time.monotonic() > deadline:
            return [mine[i] for i in ids], running_seen
        time.sleep(poll)


def burst_section(args: argparse.Namespace) -> tuple[dict, list[str]]:
    limit, n = args.max_concurrent, args.burst
    print(f"burst: {n} searches, NAS_MAX_CONCURRENT_SEARCHES={limit}...", flush=True)
    service = Service({"NAS_MAX_CONCURRENT_SEARCHES": str(limit)}, args.timeout)
    try:
        time.sleep(args.settle)
        submitted = time.time()
        answers = submit_at_once(service.api, [{"space": args.burst_space, "budget": args.burst_budget,
                                                "seed": seed} for seed in range(n)])
        ids = sorted(body["id"] for status, body in answers if status == 202)
        refused = [f"{status}: {body}" for status, body in answers if status != 202]
        if refused:
            print(f"{len(refused)} submits refused; the first: {refused[0]}", file=sys.stderr)
        searches, running_seen = watch(service.api, ids, args.poll, args.timeout)
        wall = time.time() - submitted
        if any(s["status"] != "succeeded" for s in searches):
            print(service.log_tail(), file=sys.stderr)
    finally:
        start_s, stop_s = service.start_s, service.stop()
    result = burst_figures(searches, running_seen, [status for status, _ in answers], wall, args)
    result.update(service_start_s=start_s, service_stop_s=stop_s, processes_left_after_stop=service.left_behind)
    return result, burst_lines(result, args)


def burst_figures(searches: list[dict], running_seen: list[int], answers: list[int], wall: float,
                  args: argparse.Namespace) -> dict:
    limit, n = args.max_concurrent, args.burst
    done = [s for s in searches if s["started_at"] and s["finished_at"]]
    intervals = [(stamp(s["started_at"]), stamp(s["finished_at"])) for s in done]  # in id order
    starts, finishes = [a for a, _ in intervals], sorted(b for _, b in intervals)
    # How long a freed slot stayed empty: each start after the first ``limit``, since the last finish.
    gaps = [a - max(f for f in finishes if f <= a) for a in sorted(starts)[limit:] if any(f <= a for f in finishes)]
    checks = {
        f"all {n} submits answered 202": answers.count(202) == n,
        f"all {n} succeeded with their budget evaluated": len(searches) == n and all(
            s["status"] == "succeeded" and s["evaluated"] == args.burst_budget for s in searches),
        "started in submission order (started_at sorted like the ids)": (
            len(done) == len(searches) and starts == sorted(starts)),
        f"at most {limit} ran at once (started_at..finished_at)": max_overlap(intervals) <= limit,
        f"at most {limit} ran at once (each poll of ?status=running)": max(running_seen) <= limit,
    }
    return {
        "searches": n, "space": args.burst_space, "budget": args.burst_budget, "max_concurrent": limit,
        "checks": checks, "passed": all(checks.values()), "wall_s": wall, "searches_per_min": 60 * len(done) / wall,
        "evals_per_s": sum(s["evaluated"] for s in searches) / wall, "peak_by_intervals": max_overlap(intervals),
        "peak_by_polls": max(running_seen), "polls": len(running_seen),
        "handover_gap_s_median": h.median(gaps), "handover_gap_s_max": max(gaps, default=None),
        "run_s_median": h.median(b - a for a, b in intervals),
        "submit_answers": answers,
        "rows": [{k: s[k] for k in ("id", "seed", "status", "evaluated", "created_at", "started_at", "finished_at",
                                    "error")} for s in searches],
    }


def burst_lines(r: dict, args: argparse.Namespace) -> list[str]:
    lines = [(f"### Burst: {r['searches']} searches of {r['space']}, budget {r['budget']} (seeds 0..{r['searches'] - 1}), "
              f"submitted at once, NAS_MAX_CONCURRENT_SEARCHES={r['max_concurrent']}"), "",
             "| check | result |", "|---|---|"]
    lines += [f"| {name} | {'pass' if ok else '**FAIL**'} |" for name, ok in r["checks"].items()]
    return lines + [
        "", (f"- submit to all final: {r['wall_s']:.1f} s; {r['searches_per_min']:.1f} searches/min, "
             f"{r['evals_per_s']:.2f} evals/s; one search ran {h.fmt(r['run_s_median'], '.1f')} s (median)"),
        (f"- most running at once: {r['peak_by_intervals']} by the intervals, {r['peak_by_polls']} in "
         f"{r['polls']} polls (every {args.poll} s); a freed slot was taken {h.fmt(r['handover_gap_s_median'])} s "
         f"later (median; max {h.fmt(r['handover_gap_s_max'])} s)"),
        (f"- service start-up {r['service_start_s']:.1f} s, graceful stop {h.fmt(r['service_stop_s'], '.1f')} s"
         + (" (processes were left in its session: killed)" if r["processes_left_after_stop"] else "")),
    ]


# -- report -----------------------------------------------------------------------------------------
def request_body(args: argparse.Namespace) -> dict:
    body = {"space": args.space, "budget": args.budget, "seed": args.seed}
    return {**body, **({"strategy": args.strategy} if args.strategy else {}), **({"proxy": args.proxy} if args.proxy else {})}


def describe(body: dict) -> str:
    from nas.search.request import SearchRequest

    config = SearchRequest.model_validate(body).to_config()
    return (f"{config.space}, budget {config.budget}, seed {config.seed}, {config.strategy}, "
            f"{'+'.join(config.proxy.proxies)}, batch {config.batch_size}")


def machine() -> dict:
    import ray
    import torch

    return {**h.facts(), "torch_threads_default": torch.get_num_threads(), "torch_threads_per_worker": 1,
            "torch": torch.__version__, "ray": ray.__version__}


def commands(args: argparse.Namespace, body: dict) -> dict:
    flags = "".join(f" --{k} {v}" for k, v in body.items())
    return {
        "bench": " ".join([".venv/bin/python", "bench/service.py", *sys.argv[1:]]),
        "in_process_equivalent": f"NAS_DATA_DIR=<fresh temp dir> nas search{flags} --workers {os.cpu_count()}",
        "service": "NAS_DATA_DIR=<fresh temp dir> RAY_TMPDIR=<fresh temp dir> nas serve --host 127.0.0.1 --port <free>",
        "submit": f"curl -s -X POST <service>/api/v1/searches -H 'content-type: application/json' -d '{json.dumps(body)}'",
        "burst_service": f"NAS_MAX_CONCURRENT_SEARCHES={args.max_concurrent} " + "NAS_DATA_DIR=<fresh temp dir> nas serve ...",
    }


def main() -> int:
    parser = h.parser(__doc__, seed=0, quick={"space": "nasbench201", "budget": 16, "burst": 3, "burst_budget": 8,
                                             "settle": 0.0})
    parser.add_argument("--space", default="mobilenetv3")
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--strategy", default=None, help="default: the service's (tpe)")
    parser.add_argument("--proxy", default=None, help="default: the service's (synflow)")
    parser.add_argument("--repeats", type=int, default=1, help="in-process and service runs, alternated")
    parser.add_argument("--burst", type=int, default=20, help="searches submitted at once")
    parser.add_argument("--burst-space", default="nasbench201")
    parser.add_argument("--burst-budget", type=int, default=16)
    parser.add_argument("--max-concurrent", type=int, default=2, help="NAS_MAX_CONCURRENT_SEARCHES of the burst")
    parser.add_argument("--skip-rate", action="store_true")
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between polls")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds between /health and the first submit")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for start-up, for a search")
    parser.add_argument("--out", type=Path, default=h.RESULTS / "service.json")
    args = parser.parse_args()
    if args.repeats < 1 or args.burst < 1 or args.max_concurrent < 1:
        parser.error("--repeats, --burst and --max-concurrent must be at least 1")
    if not 1 <= args.budget <= MAX_BUDGET or not 1 <= args.burst_budget <= MAX_BUDGET:
        parser.error(f"--budget and --burst-budget must be from 1 to {MAX_BUDGET}")
    # A SIGTERM unwinds like Ctrl-C, so every started service is stopped and its temp dir removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    body = request_body(args)
    facts = machine()
    print(f"{facts['cores']} cores ({facts['cpu']}), torch {facts['torch']}, ray {facts['ray']}, "
          f"load {facts['load_avg'][0]:.1f}", flush=True)
    report = [f"## Service benchmark ({facts['date']}, {facts['cores']} cores, {facts['cpu']})", "",
              (f"torch {facts['torch']} ({facts['torch_threads_default']} threads by default, 1 per evaluation "
               f"worker), Ray {facts['ray']}, Python {facts['python']}, {facts['platform']}; load average at the "
               f"start {' / '.join(f'{x:.1f}' for x in facts['load_avg'])}"), ""]
    document: dict = {"args": {**vars(args), "out": str(args.out)}, "request": body, "machine": facts,
                      "commands": commands(args, body)}
    if not args.skip_rate:
        document["rate"], lines = rate_section(args, body)
        report += lines + [""]
        print("\n" + "\n".join(lines), flush=True)
    if not args.skip_burst:
        document["burst"], lines = burst_section(args)
        report += lines + [""]
        print("\n" + "\n".join(lines), flush=True)
    report += ["Commands:", ""] + [f"- {k}: `{v}`" for k, v in document["commands"].items()]
    h.save(args.out, document, report)
    h.publish(args, "service", "The service against in-process", "\n".join(report[2:]))
    return 0 if document.get("burst", {}).get("passed", True) else 1


if __name__ == "__main__":
    sys.exit(main())
