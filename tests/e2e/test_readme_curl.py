"""The README's curl examples (section "REST API"), run as written with the real ``curl`` against a
real ``nas serve``, in README order, so the README stays true.

Each command is taken from the README's sh blocks (``\\`` continuations joined, quoted text over several
lines kept, the trailing ``# comment`` dropped); only ``localhost:8000`` becomes the service's address.
It runs in a folder holding the files the examples name (``pixel7-cpu__mobilenetv3.json``,
``kit/measurements.csv``, ``parts.npz``). Each must answer the status its comment gives (``# 201``),
202 for a search submitted, 200 otherwise, with the body its comment shows (``"status": "queued"``,
``version 2``). The searches run 4 candidates instead of the README's budget, except one the README
cancels: that one must still be unfinished then.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from nas.latency.shipped import DEFAULT_DEVICE, PACKAGE
from tests.datasets.test_calibration import images, npz
from tests.e2e.service import FINAL
from tests.e2e.test_readme import README, sh_blocks
from tests.test_cli_fit import csv_text, timed_networks

SHORT_BUDGET = 4
MACHINE_DEPENDENT = {"cpu", "default_device"}  # the health comment shows the README author's machine


def curl_commands(text: str) -> list[tuple[list[str], str]]:
    """Every curl command of ``text``'s sh blocks: its words and its trailing comment ("" if none)."""
    found = []
    for block in sh_blocks(text):
        lines = iter(block.splitlines())
        for line in lines:
            if not line.startswith("curl "):
                continue
            command = line
            while command.endswith("\\") or not _complete(command):
                command += "\n" + next(lines)
            comment = re.search(r"\s#\s*(.*)$", command.rsplit("\n", 1)[-1])
            words = shlex.split(command.replace("\\\n", " "), comments=True)
            found.append((words, comment.group(1) if comment else ""))
    return found


def _complete(command: str) -> bool:
    """Whether ``command`` closes every quote it opens (a JSON body may span lines)."""
    try:
        shlex.split(command, comments=True)
    except ValueError:
        return False
    return True


def expected_status(words: list[str], comment: str) -> int:
    """The status the comment gives (``# 201, ...``); a search submitted answers 202, as the README's
    "submit (202, queued)" says; anything else 200."""
    given = re.match(r"(\d{3})\b", comment)
    if given:
        return int(given.group(1))
    return 202 if "POST" in words and _url(words).endswith("/api/v1/searches") else 200


def _url(words: list[str]) -> str:
    return next(w for w in words if "localhost:8000" in w)


def cancelled_ids(commands: list[tuple[list[str], str]]) -> set[int]:
    return {int(m.group(1)) for words, _ in commands if (m := re.search(r"/searches/(\d+)/cancel", _url(words)))}


def prepare_files(folder: Path) -> None:
    """The files the README's examples send: a profile of pixel7-cpu (the shipped CPU table, renamed:
    the format is what is checked), a kit's measurements (12 NAS-Bench-201 cells, timed 3x the
    shipped prediction) and a calibration dataset of 40 images in 10 classes."""
    profile = json.loads(resources.files(PACKAGE).joinpath(f"{DEFAULT_DEVICE}__mobilenetv3.json").read_text())
    profile["device"].update(name="pixel7-cpu", hardware="Pixel 7, Tensor G2")
    (folder / "pixel7-cpu__mobilenetv3.json").write_text(json.dumps(profile))
    (folder / "kit").mkdir()
    (folder / "kit" / "measurements.csv").write_text(csv_text(timed_networks(12)))
    (folder / "parts.npz").write_bytes(npz(images=images(n=40, side=32), labels=np.arange(40) % 10))


def run_curl(words: list[str], cwd: Path) -> tuple[int, str]:
    """``words`` run with curl's errors shown and the status appended; (status, body)."""
    done = subprocess.run([*words, "--show-error", "--write-out", "\n%{http_code}"], check=False, cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{shlex.join(words)}\ncurl exited with {done.returncode}: {done.stderr}"
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def check_comment(comment: str, body: str, where: str) -> None:
    """The facts the comment shows: ``"key": value`` pairs and ``version N``."""
    data = json.loads(body)
    shown = {key: json.loads(value) for key, value in re.findall(r'"(\w+)":\s*("[^"]*"|\d+)', comment)
             if key not in MACHINE_DEPENDENT}
    if (version := re.search(r"\bversion (\d+)", comment)):
        shown["version"] = int(version.group(1))
    assert {key: data.get(key) for key in shown} == shown, f"{where}\nthe comment says {comment!r}"


@pytest.fixture(scope="module")
def service(module_services):
    return module_services()


def test_readme_has_the_curl_examples():
    commands = curl_commands(README.read_text())
    assert len(commands) >= 20 and cancelled_ids(commands) == {1}
    assert all("..." not in " ".join(words) for words, _ in commands), "an example that cannot run"


def test_readme_curl_examples_answer_as_the_readme_says(service, tmp_path):
    prepare_files(tmp_path)
    commands = curl_commands(README.read_text())
    keep_budget, submitted = cancelled_ids(commands), 0
    for words, comment in commands:
        status = expected_status(words, comment)
        words = [w.replace("localhost:8000", f"{service.host}:{service.port}") for w in words]
        if status == 202:
            submitted += 1  # ids count from 1 on a fresh database
            if submitted not in keep_budget:
                words = [re.sub(r'"budget": \d+', f'"budget": {SHORT_BUDGET}', w) for w in words]
        answered, body = run_curl(words, tmp_path)
        where = f"{shlex.join(words)}\nanswered {answered}: {body[:2000]}"
        assert answered == status, where
        check_comment(comment, body, where)
        if "/cancel" in words[-1]:
            assert json.loads(body)["status"] == "cancelled", where

    searches = {s["id"]: s for s in service.client.get("/searches").json()}
    assert len(searches) == submitted == 3
    for search_id in searches:
        done, _ = service.wait_for(search_id, FINAL, timeout=120)
        wanted = "cancelled" if search_id in keep_budget else "succeeded"
        assert done["status"] == wanted, f"search {search_id}: {done['status']} {done.get('error')}"
