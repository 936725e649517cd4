"""``Store``: the one layer that talks to the database.

Every method opens its own transaction (``with self._sessions.begin()``) and returns frozen records
from ``records.py``; ORM objects and sessions never leave this module. Inserts that may repeat (cached
results, a candidate seen twice) use the backend's ``ON CONFLICT DO NOTHING``, which SQLite and
PostgreSQL both have, so a duplicate is skipped rather than raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

import nas.latency as latency
from nas.latency.schema import DEVICE_NAME_PATTERN
from nas.storage import convert
from nas.storage.engine import MIGRATION_LOCK, alembic_config, describe, make_engine, resolve_url
from nas.storage.models import (
    HASH,
    NAME,
    Candidate,
    Dataset,
    Device,
    LatencyCache,
    LatencyProfile,
    ProxyScoreCache,
    Search,
    utcnow,
)
from nas.storage.records import (
    FINAL_STATUSES,
    AlreadyExists,
    CandidatePoint,
    CandidateRecord,
    DatasetRecord,
    DeviceRecord,
    InvalidTransition,
    NotFound,
    ProfileRecord,
    SearchRecord,
    check_status,
    finite,
    finite_scores,
)

SORTS = {"score": Candidate.score, "latency_ms": Candidate.latency_ms, "params": Candidate.params,
         "flops": Candidate.flops, "created": Candidate.id}
CHUNK = 500  # values per IN (...) list and rows per insert, well under SQLite's parameter limit
# running -> queued: a search cut off by a stop of the service goes back in the queue to resume.
_NEXT_STATUSES = {"queued": {"running", *FINAL_STATUSES}, "running": {"queued", *FINAL_STATUSES}}


class Store:
    """The service's database. ``open_store()`` makes one and migrates it; ``close()`` lets it go."""

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_url(url)
        self._engine = make_engine(self.url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Store({describe(self.url)!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    # --- schema -----------------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Apply every migration not yet applied (none: nothing happens)."""
        config = alembic_config(self.url)
        with self._engine.begin() as connection:
            if self.backend == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def revision(self) -> str | None:
        """The database's current Alembic revision (None before the first migration)."""
        with self._engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def head_revision() -> str | None:
        return ScriptDirectory.from_config(alembic_config()).get_current_head()

    # --- devices ----------------------------------------------------------------------------------

    def add_device(self, name: str, hardware: str = "", description: str = "", shipped: bool = False) -> DeviceRecord:
        convert.check_name(name, "name", DEVICE_NAME_PATTERN)
        if not isinstance(hardware, str) or len(hardware) > 200:
            raise ValueError(f"hardware: must be a string of at most 200 characters, got {hardware!r:.80}")
        for field, value in (("hardware", hardware), ("description", description)):
            if not convert.nameable(value):
                raise ValueError(f"{field}: must not contain NUL characters")
        with self._sessions.begin() as session:
            if session.scalar(select(Device.id).where(Device.name == name)) is not None:
                raise AlreadyExists(f"name: a device named {name!r} already exists", field="name")
            device = Device(name=name, hardware=hardware, description=description, shipped=shipped)
            session.add(device)
            self._flush(session, f"name: a device named {name!r} already exists", "name")
            return convert.device(device)

    def get_device(self, name: str) -> DeviceRecord:
        with self._sessions.begin() as session:
            return convert.device(self._device(session, name))

    def list_devices(self) -> list[DeviceRecord]:
        with self._sessions.begin() as session:
            return [convert.device(d) for d in session.scalars(select(Device).order_by(Device.name))]

    # --- latency profiles -------------------------------------------------------------------------

    def add_profile(self, device_name: str, profile: latency.Profile) -> ProfileRecord:
        """Store ``profile`` as the next version for its device and search space."""
        with self._sessions.begin() as session:
            return convert.profile(self._add_profile(session, self._device(session, device_name), profile))

    def list_profiles(self, device_name: str, space: str | None = None) -> list[ProfileRecord]:
        with self._sessions.begin() as session:
            device = self._device(session, device_name)
            query = select(LatencyProfile).where(LatencyProfile.device_id == device.id)
            if space is not None and not convert.nameable(space):
                return []
            if space is not None:
                query = query.where(LatencyProfile.search_space == space)
            query = query.order_by(LatencyProfile.search_space, LatencyProfile.version)
            return [convert.profile(p) for p in session.scalars(query)]

    def get_profile(self, device_name: str, space: str, version: int | None = None) -> ProfileRecord:
        """Version ``version`` of the device's profile for ``space``; the latest when None."""
        with self._sessions.begin() as session:
            device = self._device(session, device_name)
            if not convert.nameable(space):
                raise NotFound(f"device {device_name!r} has no profile for search space {space!r}")
            query = select(LatencyProfile).where(
                LatencyProfile.device_id == device.id, LatencyProfile.search_space == space)
            if version is None:
                query = query.order_by(LatencyProfile.version.desc()).limit(1)
            else:
                query = query.where(LatencyProfile.version == version)
            found = session.scalars(query).first()
            if found is None:
                which = "any profile" if version is None else f"profile version {version}"
                raise NotFound(f"device {device_name!r} has no {which} for search space {space!r}")
            return convert.profile(found)

    def load_profile(self, profile_id: int) -> latency.Profile:
        """The stored document of profile ``profile_id``, checked again as any profile is."""
        with self._sessions.begin() as session:
            document = session.scalar(select(LatencyProfile.document).where(LatencyProfile.id == profile_id))
        if document is None:
            raise NotFound(f"no latency profile with id {profile_id}")
        return latency.validate_profile(document, source=f"stored latency profile {profile_id}")

    def ensure_shipped_devices(self) -> list[ProfileRecord]:
        """Register the devices and profiles shipped in ``latency_tables/``; returns what was added.

        Idempotent: a profile whose latest stored version has the same document is left alone; one
        whose shipped file changed (a new release) is added as the next version.
        """
        added = []
        for (device_name, space), _file in sorted(latency.shipped_files().items()):
            profile = latency.read_shipped(device_name, space)
            document = profile.to_json()
            with self._sessions.begin() as session:
                device = session.scalars(select(Device).where(Device.name == device_name)).first()
                if device is None:
                    device = Device(name=device_name, hardware=profile.device.hardware, shipped=True,
                                    description="measured by the project; ships with the package")
                    session.add(device)
                    session.flush()
                latest = session.scalar(
                    select(LatencyProfile.document)
                    .where(LatencyProfile.device_id == device.id, LatencyProfile.search_space == space)
                    .order_by(LatencyProfile.version.desc()).limit(1))
                if latest != document:
                    added.append(convert.profile(self._add_profile(session, device, profile, document)))
        return added

    # --- calibration datasets ---------------------------------------------------------------------

    def add_dataset(self, name: str, content: bytes, info: dict[str, Any], description: str = "") -> DatasetRecord:
        """Keep an uploaded dataset already checked by ``nas.datasets.calibration.read_npz``; ``info``
        is its ``describe()``. A name is never reused (``AlreadyExists``)."""
        convert.check_name(name, "name", DEVICE_NAME_PATTERN)
        if not isinstance(description, str) or len(description) > 2000 or not convert.nameable(description):
            raise ValueError(f"description: must be a string of at most 2000 characters without NUL, "
                             f"got {description!r:.80}")
        with self._sessions.begin() as session:
            if session.scalar(select(Dataset.id).where(Dataset.name == name)) is not None:
                raise AlreadyExists(f"name: a dataset named {name!r} already exists; datasets are never "
                                    "replaced, upload it under a new name", field="name")
            row = Dataset(name=name, description=description, content=content, size_bytes=len(content),
                          **{key: info[key] for key in ("num_images", "height", "width", "num_classes",
                                                        "dtype", "sha256")})
            session.add(row)
            self._flush(session, f"name: a dataset named {name!r} already exists", "name")
            return convert.dataset(row)

    def get_dataset(self, name: str) -> DatasetRecord:
        with self._sessions.begin() as session:
            return convert.dataset(self._dataset(session, name))

    def list_datasets(self) -> list[DatasetRecord]:
        with self._sessions.begin() as session:
            return [convert.dataset(d) for d in session.scalars(select(Dataset).order_by(Dataset.name))]

    def dataset_content(self, name: str) -> bytes:
        """The ``.npz`` file as it was uploaded."""
        with self._sessions.begin() as session:
            self._dataset(session, name)
            return bytes(session.scalar(select(Dataset.content).where(Dataset.name == name)))

    # --- searches ---------------------------------------------------------------------------------

    def create_search(self, request: dict[str, Any], *, space: str, device: str, profile_id: int | None,
                      strategy: str, budget: int, seed: int | None) -> SearchRecord:
        """A new search, queued; ``profile_id`` must be one of ``device``'s profiles for ``space``."""
        if not isinstance(request, dict):
            raise ValueError(f"request: must be a JSON object, got {type(request).__name__}")
        convert.check_json(request, "request")
        convert.check_text(space, "space", NAME)
        convert.check_text(strategy, "strategy", NAME)
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
            raise ValueError(f"budget: must be a non-negative integer, got {budget!r}")
        with self._sessions.begin() as session:
            device_row = self._device(session, device)
            if profile_id is not None:
                profile = session.get(LatencyProfile, profile_id)
                if profile is None:
                    raise NotFound(f"no latency profile with id {profile_id}")
                if profile.device_id != device_row.id or profile.search_space != space:
                    raise ValueError(f"profile_id: profile {profile_id} is for device {profile.device.name!r} "
                                     f"and space {profile.search_space!r}, not {device!r} and {space!r}")
            search = Search(request=request, space=space, device=device_row, profile_id=profile_id,
                            strategy=strategy, budget=budget, seed=seed, status="queued", evaluated=0,
                            history=[])
            session.add(search)
            session.flush()
            return convert.search(search)

    def attach_profile(self, search_id: int, profile_id: int) -> SearchRecord:
        """Give a queued search that waited for its device's profile (this machine's, being fitted)
        that profile; it must be of the search's device and space."""
        with self._sessions.begin() as session:
            search = self._search(session, search_id, lock=True)
            profile = session.get(LatencyProfile, profile_id)
            if profile is None or profile.device_id != search.device_id or profile.search_space != search.space:
                raise ValueError(f"profile_id: {profile_id} is not a profile of the search's device and space")
            search.profile_id = profile_id
            search.request = {**search.request, "profile_version": profile.version}
            session.flush()
            return convert.search(search)

    def get_search(self, search_id: int) -> SearchRecord:
        with self._sessions.begin() as session:
            return convert.search(self._search(session, search_id))

    def list_searches(self, status: str | None = None, space: str | None = None, limit: int = 100,
                      offset: int = 0) -> list[SearchRecord]:
        """Newest first."""
        convert.check_page(limit, offset)
        query = select(Search)
        if status is not None:
            query = query.where(Search.status == check_status(status))
        if space is not None:
            if not convert.nameable(space):
                return []
            query = query.where(Search.space == space)
        query = query.order_by(Search.id.desc()).limit(limit).offset(offset)
        with self._sessions.begin() as session:
            return [convert.search(s) for s in session.scalars(query)]

    def update_search(self, search_id: int, *, status: str | None = None, evaluated: int | None = None,
                      hypervolume: float | None = None, history: Sequence[Sequence[float]] | None = None,
                      error: str | None = None) -> SearchRecord:
        """Record progress or a status change; the times are set by the change.

        queued -> running | a final status; running -> queued (to resume after a restart) | a final
        status (succeeded, failed, cancelled); a final status never changes, so a worker finishing after
        a cancel cannot undo it. ``started_at`` is the first start: a resumed search keeps it.
        """
        if status is not None:
            check_status(status)
        if evaluated is not None and (isinstance(evaluated, bool) or not isinstance(evaluated, int) or evaluated < 0):
            raise ValueError(f"evaluated: must be a non-negative integer, got {evaluated!r}")
        hypervolume = None if hypervolume is None else finite(hypervolume, "hypervolume")
        pairs = None if history is None else convert.history(history)
        with self._sessions.begin() as session:
            search = self._search(session, search_id, lock=True)
            if status is not None and status != search.status:
                if status not in _NEXT_STATUSES.get(search.status, ()):
                    raise InvalidTransition(f"status: search {search_id} is {search.status}; "
                                            f"it cannot become {status}")
                search.status = status
                if status == "running" and search.started_at is None:
                    search.started_at = utcnow()
                if status in FINAL_STATUSES:
                    search.finished_at = utcnow()
            if evaluated is not None:
                search.evaluated = evaluated
            if hypervolume is not None:
                search.hypervolume = hypervolume
            if pairs is not None:
                search.history = pairs
            if error is not None:
                search.error = error
            session.flush()
            return convert.search(search)

    # --- candidates -------------------------------------------------------------------------------

    def add_candidates(self, search_id: int, rows: Sequence[dict[str, Any]]) -> int:
        """Store evaluated candidates; one whose ``arch_hash`` the search already has is skipped.

        Returns how many were new.
        """
        values = [convert.candidate_row(row, f"rows[{i}]") for i, row in enumerate(rows)]
        with self._sessions.begin() as session:
            self._search(session, search_id)
            seen = set(self._existing(session, Candidate.arch_hash, [v["arch_hash"] for v in values],
                                      Candidate.search_id == search_id))
            new = []
            for value in values:
                if value["arch_hash"] not in seen:
                    seen.add(value["arch_hash"])
                    new.append({**value, "search_id": search_id, "is_pareto": False, "created_at": utcnow()})
            convert.insert_ignoring(session, Candidate, new, ["search_id", "arch_hash"])
            return len(new)

    def set_pareto(self, search_id: int, arch_hashes: Iterable[str]) -> None:
        """Mark exactly ``arch_hashes`` as the search's Pareto front."""
        front = set(arch_hashes)
        with self._sessions.begin() as session:
            self._search(session, search_id)
            known = set(self._existing(session, Candidate.arch_hash, front, Candidate.search_id == search_id))
            if front - known:
                raise NotFound(f"search {search_id} has no candidates with arch_hash "
                               f"{convert.listing(sorted(front - known))}")
            session.execute(update(Candidate).where(Candidate.search_id == search_id).values(is_pareto=False))
            for chunk in convert.chunks(sorted(front), CHUNK):
                session.execute(update(Candidate)
                                .where(Candidate.search_id == search_id, Candidate.arch_hash.in_(chunk))
                                .values(is_pareto=True))

    def list_candidates(self, search_id: int, *, pareto_only: bool = False, sort: str = "score",
                        descending: bool = True, limit: int = 100, offset: int = 0) -> list[CandidateRecord]:
        """A page of the search's candidates, ordered by ``sort`` (ties by insertion order)."""
        if sort not in SORTS:
            raise ValueError(f"sort: unknown sort key {sort!r}; one of {', '.join(SORTS)}")
        convert.check_page(limit, offset)
        column = SORTS[sort]
        order = [column.desc() if descending else column.asc()]
        if sort != "created":
            order.append(Candidate.id.desc() if descending else Candidate.id.asc())
        query = select(Candidate).where(Candidate.search_id == search_id)
        if pareto_only:
            query = query.where(Candidate.is_pareto.is_(True))
        with self._sessions.begin() as session:
            self._search(session, search_id)
            rows = session.scalars(query.order_by(*order).limit(limit).offset(offset))
            return [convert.candidate(c) for c in rows]

    def count_candidates(self, search_id: int, pareto_only: bool = False) -> int:
        query = select(func.count()).select_from(Candidate).where(Candidate.search_id == search_id)
        if pareto_only:
            query = query.where(Candidate.is_pareto.is_(True))
        with self._sessions.begin() as session:
            self._search(session, search_id)
            return session.scalar(query) or 0

    def plot_points(self, search_id: int, sample: int) -> tuple[list[CandidatePoint], list[CandidatePoint], int]:
        """The search's front in full (fastest first), at most ``sample`` of its other candidates spread
        over evaluation order (every k-th id), and how many candidates it has: what a plot of a search
        of any size needs, reading only the plotted columns."""
        if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
            raise ValueError(f"sample: must be a non-negative integer, got {sample!r}")
        columns = (Candidate.id, Candidate.arch, Candidate.score, Candidate.latency_ms, Candidate.params,
                   Candidate.flops, Candidate.feasible, Candidate.is_pareto)
        mine = Candidate.search_id == search_id
        with self._sessions.begin() as session:
            self._search(session, search_id)
            total = session.scalar(select(func.count()).select_from(Candidate).where(mine)) or 0
            front = session.execute(select(*columns).where(mine, Candidate.is_pareto.is_(True))
                                    .order_by(Candidate.latency_ms, Candidate.id)).all()
            others = []
            rest = total - len(front)
            if sample and rest:
                # Every k-th by id, in SQL over the (search_id, is_pareto, id) index: ids of one search are
                # nearly contiguous (searches running side by side interleave by batches), so this spreads
                # the sample over the whole search; LIMIT keeps it within ``sample`` however ids fall.
                step = -(-rest // sample)
                others = session.execute(select(*columns).where(mine, Candidate.is_pareto.is_(False),
                                                                Candidate.id % step == 0)
                                         .order_by(Candidate.id).limit(sample)).all()
        return [CandidatePoint(*row) for row in front], [CandidatePoint(*row) for row in others], total

    def get_candidate(self, candidate_id: int) -> CandidateRecord:
        if not _is_id(candidate_id):
            raise NotFound(f"no candidate with id {candidate_id}")
        with self._sessions.begin() as session:
            found = session.get(Candidate, candidate_id)
            if found is None:
                raise NotFound(f"no candidate with id {candidate_id}")
            return convert.candidate(found)

    # --- caches -----------------------------------------------------------------------------------

    def cached_scores(self, space: str, proxy_key: str, arch_hashes: Iterable[str]) -> dict[str, dict[str, float]]:
        """The proxy scores already computed for ``arch_hashes`` under ``proxy_key``; missing ones are absent."""
        wanted = list(dict.fromkeys(arch_hashes))
        found: dict[str, dict[str, float]] = {}
        with self._sessions.begin() as session:
            for chunk in convert.chunks(wanted, CHUNK):
                query = select(ProxyScoreCache.arch_hash, ProxyScoreCache.scores).where(
                    ProxyScoreCache.space == space, ProxyScoreCache.proxy_key == proxy_key,
                    ProxyScoreCache.arch_hash.in_(chunk))
                found.update({h: dict(s) for h, s in session.execute(query)})
        return found

    def put_scores(self, space: str, proxy_key: str, scores: dict[str, dict[str, float]]) -> None:
        convert.check_text(space, "space", NAME)
        convert.check_text(proxy_key, "proxy_key", 128)
        rows = [{"space": space, "proxy_key": proxy_key, "arch_hash": convert.check_text(h, "arch_hash", HASH),
                 "scores": finite_scores(s, f"scores[{h!r}]"), "created_at": utcnow()} for h, s in scores.items()]
        with self._sessions.begin() as session:
            convert.insert_ignoring(session, ProxyScoreCache, rows, ["space", "proxy_key", "arch_hash"])

    def cached_latencies(self, profile_id: int, arch_hashes: Iterable[str]) -> dict[str, float]:
        wanted = list(dict.fromkeys(arch_hashes))
        found: dict[str, float] = {}
        with self._sessions.begin() as session:
            for chunk in convert.chunks(wanted, CHUNK):
                query = select(LatencyCache.arch_hash, LatencyCache.latency_ms).where(
                    LatencyCache.profile_id == profile_id, LatencyCache.arch_hash.in_(chunk))
                found.update({h: ms for h, ms in session.execute(query)})
        return found

    def put_latencies(self, profile_id: int, latencies: dict[str, float]) -> None:
        rows = [{"profile_id": profile_id, "arch_hash": convert.check_text(h, "arch_hash", HASH),
                 "latency_ms": finite(ms, f"latencies[{h!r}]"), "created_at": utcnow()} for h, ms in latencies.items()]
        with self._sessions.begin() as session:
            if rows and session.get(LatencyProfile, profile_id) is None:
                raise NotFound(f"no latency profile with id {profile_id}")
            convert.insert_ignoring(session, LatencyCache, rows, ["profile_id", "arch_hash"])

    # --- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _device(session: Session, name: str) -> Device:
        if not convert.nameable(name):
            raise NotFound(f"no device named {name!r}")
        device = session.scalars(select(Device).where(Device.name == name)).first()
        if device is None:
            raise NotFound(f"no device named {name!r}")
        return device

    @staticmethod
    def _dataset(session: Session, name: str) -> Dataset:
        if not convert.nameable(name):
            raise NotFound(f"no dataset named {name!r}")
        dataset = session.scalars(select(Dataset).where(Dataset.name == name)).first()
        if dataset is None:
            raise NotFound(f"no dataset named {name!r}")
        return dataset

    @staticmethod
    def _search(session: Session, search_id: int, lock: bool = False) -> Search:
        if not _is_id(search_id):
            raise NotFound(f"no search with id {search_id}")
        # FOR UPDATE OF searches: lock the search row only, not its device.
        search = session.get(Search, search_id, with_for_update={"of": Search} if lock else None)
        if search is None:
            raise NotFound(f"no search with id {search_id}")
        return search

    @staticmethod
    def _existing(session: Session, column: Any, values: Iterable[str], *where: Any) -> Iterator[str]:
        for chunk in convert.chunks(list(dict.fromkeys(values)), CHUNK):
            yield from session.scalars(select(column).where(*where, column.in_(chunk)))

    @staticmethod
    def _flush(session: Session, message: str, field: str) -> None:
        """Flush, turning a unique violation from a concurrent writer into ``AlreadyExists``."""
        try:
            session.flush()
        except IntegrityError:
            raise AlreadyExists(message, field=field) from None

    def _add_profile(self, session: Session, device: Device, profile: latency.Profile,
                     document: str | None = None) -> LatencyProfile:
        if not isinstance(profile, latency.Profile):
            raise TypeError(f"profile: expected nas.latency.Profile, got {type(profile).__name__}")
        last = session.scalar(select(func.max(LatencyProfile.version)).where(
            LatencyProfile.device_id == device.id, LatencyProfile.search_space == profile.search_space))
        version = (last or 0) + 1
        row = LatencyProfile(
            device=device, search_space=profile.search_space, version=version,
            runtime=profile.device.runtime, resolutions=list(profile.resolutions),
            num_keys=len(profile.entries), validation_n=profile.validation.n,
            validation_mape=profile.validation.mape, validation_within_10pct=profile.validation.within_10pct,
            document=document if document is not None else profile.to_json(),
        )
        session.add(row)
        self._flush(session, f"version: profile version {version} of {device.name!r} on "
                             f"{profile.search_space!r} was added concurrently; retry", "version")
        return row


def _is_id(value: Any) -> bool:
    """Ids are 32-bit (PostgreSQL's integer): a larger one names no row, it is no database error."""
    return isinstance(value, int) and 0 < value < 2**31


def open_store(url: str | None = None) -> Store:
    """A ``Store`` on ``url`` (default: ``DATABASE_URL``, else SQLite in ``./var``), migrated to head."""
    store = Store(url)
    try:
        store.upgrade()
    except Exception:
        store.close()
        raise
    return store


