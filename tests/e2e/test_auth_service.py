"""API keys on a real service (issue 26): the key flow a deployment follows, end to end, and no key in
any log line or any answer after the one that made it."""

from __future__ import annotations

import secrets
import subprocess

from nas.testing.serve import NAS, isolated_env
from tests.e2e.service import FINAL, wait_until


def test_the_key_flow_and_no_key_in_the_logs(services, tmp_path):
    admin_key = "nas_" + secrets.token_urlsafe(32)
    env = {"NAS_AUTH": "required", "NAS_ADMIN_KEY": admin_key, "NAS_LOG_LEVEL": "debug"}
    service = services(env)
    client = service.client
    admin = {"authorization": f"Bearer {admin_key}"}

    assert client.get("/health").json() == {"status": "ok", "version": client.get("/health").json()["version"],
                                            "auth": "required", "database": None, "database_url": None,
                                            "ray": None, "cpu": None, "default_device": None,
                                            "default_latency": None, "calibrating": []}
    assert client.get("/searches").status_code == 401
    made = client.post("/keys", json={"name": "ml-team", "role": "member"}, headers=admin)
    assert made.status_code == 201, made.text
    member_key = made.json()["key"]
    member = {"authorization": f"Bearer {member_key}"}

    # The CLI writes to the same database: its key works at once.
    cli = subprocess.run([NAS, "keys", "create", "dash", "--role", "viewer"], capture_output=True, text=True,
                         env=isolated_env(tmp_path / "var", env), timeout=120)
    assert cli.returncode == 0, cli.stderr
    viewer_key = cli.stdout.strip().splitlines()[-1]
    viewer = {"authorization": f"Bearer {viewer_key}"}
    assert client.get("/keys/me", headers=viewer).json() == {"name": "dash", "role": "viewer", "auth": "required"}

    submitted = client.post("/searches", json={"space": "nasbench201", "budget": 4, "seed": 1}, headers=member)
    assert submitted.status_code == 202 and submitted.json()["owner"] == "ml-team", submitted.text
    search_id = submitted.json()["id"]
    assert client.post(f"/searches/{search_id}/cancel", headers=viewer).status_code == 403
    done = wait_until(lambda: (s := client.get(f"/searches/{search_id}", headers=viewer).json())["status"] in FINAL
                      and s, 300, "the search to finish")
    assert done["status"] == "succeeded", done
    assert client.get(f"/searches/{search_id}/pareto", headers=viewer).status_code == 200
    wrong = "nas_" + secrets.token_urlsafe(32)
    assert client.get("/searches", headers={"authorization": f"Bearer {wrong}"}).status_code == 401
    assert client.get("/searches", headers={"authorization": f"Basic {wrong}"}).status_code == 401
    answers = [client.get(path, headers=admin).text for path in ("/keys", "/health", f"/searches/{search_id}")]

    service.stop()
    log = service.log_path.read_text(errors="replace")
    assert "GET /api/v1/searches" in log  # the log is the service's, with its access lines
    for key in (admin_key, member_key, viewer_key, wrong):
        assert key not in log
        assert key[4:20] not in log  # not even in part
        assert all(key not in answer for answer in answers)
