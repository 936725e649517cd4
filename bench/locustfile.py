"""The users of ``bench/load.py`` (run by locust, from its own virtual environment; not imported by the
project): exactly ``LOAD_POLLERS`` pollers and ``LOAD_SUBMITTERS`` submitters (``fixed_count``).

- a poller reads a search's status (``GET /searches/{id}``, twice as often) and its first page of
  candidates (``GET /searches/{id}/candidates``), every 0.5-1.5 s, of a search drawn from the seeded
  ones (``LOAD_SEARCH_IDS``) and those the submitters have queued;
- a submitter queues a small search (``LOAD_SPACE``, budget ``LOAD_BUDGET``, the next seed from
  ``LOAD_SEED``) every 2-5 s.

An answer under 500 counts as a success (a 429 from a full queue, a 404 are answers the API promises);
so locust's failures are the 5xx and the requests that got no answer. Each request's status is
tallied by name (0: no answer) and written as JSON to ``LOAD_STATUS_FILE`` when locust quits, with
its stats as CSV (the columns of ``--csv``'s ``_stats.csv``) to ``LOAD_STATS_CSV``: the files ``--csv``
writes are rewritten every second and so miss the run's last moments.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import random
from collections import Counter

from locust import HttpUser, between, events, task
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

IDS = [int(i) for i in os.environ.get("LOAD_SEARCH_IDS", "1").split(",")]
SEEDS = itertools.count(int(os.environ.get("LOAD_SEED", "0")))
STATUSES: Counter = Counter()  # (request name, HTTP status; 0: no answer) -> count
TIMEOUT = 60


def call(user: HttpUser, method: str, path: str, name: str, **kwargs) -> None:
    with user.client.request(method, path, name=name, catch_response=True, timeout=TIMEOUT, **kwargs) as answer:
        STATUSES[name, answer.status_code] += 1
        if 0 < answer.status_code < 500:
            if method == "POST" and answer.status_code == 202:
                IDS.append(answer.json()["id"])
            answer.success()
        else:
            answer.failure(f"{answer.status_code}: {(answer.text or '')[:200]}")


class Poller(HttpUser):
    fixed_count = int(os.environ.get("LOAD_POLLERS", "100"))
    wait_time = between(0.5, 1.5)

    @task(2)
    def status(self) -> None:
        call(self, "GET", f"/api/v1/searches/{random.choice(IDS)}", "GET /searches/{id}")

    @task(1)
    def candidates(self) -> None:
        call(self, "GET", f"/api/v1/searches/{random.choice(IDS)}/candidates", "GET /searches/{id}/candidates")


class Submitter(HttpUser):
    fixed_count = int(os.environ.get("LOAD_SUBMITTERS", "10"))
    wait_time = between(2, 5)

    @task
    def submit(self) -> None:
        body = {"space": os.environ.get("LOAD_SPACE", "nasbench201"), "budget": int(os.environ.get("LOAD_BUDGET", "8")),
                "seed": next(SEEDS)}
        call(self, "POST", "/api/v1/searches", "POST /searches", json=body)


@events.quitting.add_listener
def write_results(environment, **_) -> None:
    if path := os.environ.get("LOAD_STATUS_FILE"):
        with open(path, "w") as out:
            json.dump([[name, code, n] for (name, code), n in sorted(STATUSES.items())], out)
    if path := os.environ.get("LOAD_STATS_CSV"):
        with open(path, "w", newline="") as out:
            StatsCSV(environment, PERCENTILES_TO_REPORT).requests_csv(csv.writer(out))
