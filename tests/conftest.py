"""Databases for the tests: a test that takes ``database_url`` or ``store`` runs on SQLite and on
PostgreSQL (Optuna's STORAGE_MODES habit); ``postgres`` is the cluster itself.

PostgreSQL is a throwaway cluster started once per session from the server binaries (``make test``
installs them); each test gets a database of its own. As root the server refuses to start, so the
cluster then belongs to the ``postgres`` user and its commands run through ``runuser``.
``NAS_TEST_SKIP_POSTGRES=1`` skips the PostgreSQL half; without it, missing binaries fail the run.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# The suite runs on many CPUs; on one with no shipped table the default device would be this machine's
# own, fitted by timing networks here on first use. Tests name the shipped default instead, and the
# tests of that first use (tests/latency/test_local.py) unset this and replace the clock.
os.environ.setdefault("NAS_DEFAULT_DEVICE", "x86-64-2core")
# Starlette's TestClient sends `Host: testserver`, which a loopback service does not answer (api.browser).
os.environ.setdefault("NAS_ALLOWED_HOSTS", "localhost,127.0.0.1,::1,testserver")

from nas.storage import Store, open_store  # noqa: E402
from nas.testing.serve import free_port  # noqa: E402

BACKENDS = ["sqlite", "postgresql"]
MISSING = ("PostgreSQL server binaries (initdb, pg_ctl) not found: `make test` installs them "
           "(apt-get install postgresql); or set NAS_TEST_SKIP_POSTGRES=1 to run only the SQLite half")


def postgres_bindir() -> Path | None:
    candidates = []
    if shutil.which("pg_config"):
        result = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if result.returncode == 0:
            candidates.append(Path(result.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += [Path(p) for p in sorted(versions, key=lambda p: int(Path(p).parent.name), reverse=True)
                   if Path(p).parent.name.isdigit()]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


class Cluster:
    """A PostgreSQL cluster in a temporary folder, reachable on 127.0.0.1 with trust auth."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="nas-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.names = itertools.count()
        if self.as_root:
            try:
                shutil.chown(self.folder, "postgres", "postgres")
            except LookupError:
                pytest.fail("running as root, the test cluster needs the 'postgres' user that Debian's "
                            "postgresql package creates: " + MISSING, pytrace=False)

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}"
                               f"{result.stderr}{tail}")

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--no-locale", "--no-sync")
        # fsync off: a test cluster is thrown away, so durability only costs time.
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as connection:
            connection.execute(sql)

    def new_database(self) -> str:
        name = f"test_{next(self.names)}"
        self.admin(f"CREATE DATABASE {name}")
        return name


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    if os.environ.get("NAS_TEST_SKIP_POSTGRES") == "1":
        pytest.skip("NAS_TEST_SKIP_POSTGRES=1")
    bindir = postgres_bindir()
    if bindir is None:
        pytest.fail(MISSING, pytrace=False)
    cluster = Cluster(bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database on the backend the test is parametrised with."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nas.db'}"
        return
    cluster: Cluster = request.getfixturevalue("postgres")
    name = cluster.new_database()
    yield cluster.url(name)
    cluster.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated ``Store`` on a fresh database."""
    with open_store(database_url) as opened:
        yield opened


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Parametrised here rather than on the fixture so a test that only needs a URL gets both too.
    # ``@pytest.mark.backends("sqlite")``: a scenario the database does not change runs on one.
    if "database_url" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        metafunc.parametrize("database_url", marker.args if marker else BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def local_ray() -> Iterator[dict]:
    """A local Ray for the session, started from the main thread.

    Ray's daemons die with the thread that started them (Linux's parent-death signal is per thread),
    and a ``TestClient`` runs the app's start-up in a thread that ends with the client; started here
    first, the app finds Ray running and joins it.
    """
    import ray

    from workers import init_ray

    yield init_ray()
    ray.shutdown()
