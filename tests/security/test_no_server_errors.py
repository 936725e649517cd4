"""No input gets a 500: what the validators miss is still a 4xx, and ids of any length are read safely."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from nas.settings import Settings

HUGE = "9" * 4301  # one digit past what Python will read as an integer (a ValueError, once a 500)


@pytest.fixture
def app(tmp_path):
    return create_app(Settings(database_url=f"sqlite:///{tmp_path / 'nas.db'}", data_dir=str(tmp_path)),
                      run_searches=False)


@pytest.mark.parametrize("path, status", [
    (f"/searches/{HUGE}", 404), (f"/candidates/{HUGE}", 404),
    (f"/api/v1/searches/{HUGE}", 422), (f"/api/v1/searches/{HUGE}/candidates", 422),
    (f"/api/v1/candidates/{HUGE}/model", 422), ("/api/v1/searches/-1", 404),
])
def test_ids_of_any_length_are_a_4xx(app, path, status):
    with TestClient(app) as client:
        response = client.get(path)
    assert response.status_code == status, response.text


def test_what_a_check_missed_is_a_4xx_that_says_so(app):
    @app.post("/api/v1/test-value-error")
    def value_error() -> None:
        raise ValueError("a check nobody wrote")

    @app.get("/api/v1/test-unicode-error")
    def unicode_error() -> None:
        "\ud800".encode()

    @app.get("/api/v1/test-memory-error")
    def memory_error() -> None:
        raise MemoryError

    with TestClient(app) as client:
        missed = client.post("/api/v1/test-value-error")
        assert missed.status_code == 422
        assert missed.json()["detail"] == [{"loc": ["body"], "msg": "body: a check nobody wrote", "type": "value_error"}]
        unencodable = client.get("/api/v1/test-unicode-error")
        assert unencodable.status_code == 422 and unencodable.json()["detail"][0]["loc"] == ["query"]
        assert client.get("/api/v1/test-memory-error").status_code == 413
