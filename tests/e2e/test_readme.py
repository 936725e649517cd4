"""The README's runnable command lines, run as written, so the README stays true.

Covers the concrete `.venv/bin/nas ...` lines of the README's sh blocks (synopsis lines, with `[`,
`(`, `|` or placeholders, are skipped). The curl examples: `test_readme_curl.py`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.test_cli import run_nas

README = Path(__file__).resolve().parents[2] / "README.md"
PLACEHOLDERS = {"S", "FILE", "NAME", "NEW", "DIR", "D", "N", "X", "P", "K", "W", "R", "H", "ID", "STR", "F.npz"}


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.DOTALL)


def runnable_nas_lines() -> list[list[str]]:
    found = []
    for block in sh_blocks(README.read_text()):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line.startswith(".venv/bin/nas "):
                continue
            line = line.replace(" [--json]", "")  # `nas proxies [--json]`: run the plain form
            words = line.split()[1:]
            if any(c in line for c in "[(|") or PLACEHOLDERS & set(words) or words[0] == "serve":
                continue
            found.append(words)
    return found


def test_readme_has_runnable_nas_lines():
    assert ["spaces"] in runnable_nas_lines() and any(w[0] == "search" for w in runnable_nas_lines())


@pytest.mark.parametrize("words", runnable_nas_lines(), ids=lambda w: " ".join(w))
def test_readme_nas_line_runs(words, tmp_path):
    if words[0] == "search":
        # The README's budget of 200 candidates takes minutes here: the same command with 8, one worker.
        words = [*words]
        words[words.index("--budget") + 1] = "8"
        words += ["--workers", "1"]
    env = {**os.environ, "NAS_DATA_DIR": str(tmp_path / "var"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'nas.db'}"}
    result = run_nas(*words, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
