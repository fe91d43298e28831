"""Engine and session factory. One unit of work per request: the dependency commits or rolls back.

Under load (issue 18, finding 16) the pool is bounded and fails fast: `PREFLAB_DB_POOL_SIZE` +
`PREFLAB_DB_MAX_OVERFLOW` connections per process, a checkout that waits `PREFLAB_DB_POOL_TIMEOUT_S` at
most (the web answers 503), and in web processes a statement and an idle-in-transaction timeout on every
PostgreSQL connection, so no request can hold a lock for longer than that while it waits for something
else. Workers and the CLI run long statements by design (imports, exports) and keep no such limit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import orjson
from pydantic import Field
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import get_settings

# Ids are BIGINT on PostgreSQL and 64-bit INTEGER on SQLite: an id past that is refused as a bad request
# before a driver sees it (PostgreSQL's "out of range", sqlite3's OverflowError would be a 500).
MAX_ID = 2**63 - 1
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]


def make_engine(url: str, *, request_timeouts: bool = True, **kwargs: Any) -> Engine:
    settings = get_settings()
    # orjson reads JSON columns about 4x faster than the standard library: exports decode every row.
    kwargs.setdefault("json_deserializer", orjson.loads)
    kwargs.setdefault("pool_size", settings.db_pool_size)
    kwargs.setdefault("max_overflow", settings.db_max_overflow)
    kwargs.setdefault("pool_timeout", settings.db_pool_timeout_s)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
            # isolation_level=None hands transaction control to the "begin" hook below.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # BEGIN IMMEDIATE takes the write lock up front: two writers queue on busy_timeout
            # instead of failing with "database is locked" when a read transaction upgrades.
            # Read-only callers (health checks) ask for a deferred BEGIN with sqlite_deferred=True.
            deferred = conn.get_execution_options().get("sqlite_deferred", False)
            conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

        return engine
    # No pre-ping: it costs a round trip on every request. Connections are recycled instead, and one
    # that died with a database restart fails a single request.
    kwargs.setdefault("pool_recycle", 1800)
    engine = create_engine(url, **kwargs)
    if not request_timeouts:
        return engine

    @event.listens_for(engine, "checkout")
    def _request_timeouts(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        # Once per connection, and only in a web process: a pooled connection opened before the app
        # started (the embedded serve seeds first) takes them at its next checkout.
        wanted = _REQUEST_TIMEOUTS.get("values")
        if wanted is None or record.info.get("request_timeouts") == wanted:
            return
        statement_ms, idle_ms = wanted
        cur = dbapi_conn.cursor()
        cur.execute(f"SET statement_timeout = {int(statement_ms)}")
        cur.execute(f"SET idle_in_transaction_session_timeout = {int(idle_ms)}")
        cur.close()
        dbapi_conn.commit()
        record.info["request_timeouts"] = wanted

    return engine


# (statement_timeout ms, idle_in_transaction_session_timeout ms) once the process serves web requests.
_REQUEST_TIMEOUTS: dict[str, tuple[int, int]] = {}


def use_request_timeouts() -> None:
    """Called by create_app(): this process serves requests, so its PostgreSQL connections take the
    statement and idle-in-transaction timeouts from the settings."""
    settings = get_settings()
    _REQUEST_TIMEOUTS["values"] = (
        round(settings.db_statement_timeout_s * 1000),
        round(settings.db_idle_in_transaction_timeout_s * 1000),
    )


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().resolved_database_url)


@lru_cache
def get_health_engine() -> Engine:
    """One connection of its own per process for /readyz, with short timeouts: the check answers while
    requests hold every connection of the main pool."""
    url = get_settings().resolved_database_url
    if url.startswith("sqlite"):
        return make_engine(url, pool_size=1, max_overflow=0, pool_timeout=1)
    return make_engine(
        url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=1,
        request_timeouts=False,
        connect_args={"connect_timeout": 2, "options": "-c statement_timeout=2000"},
    )


def connections_needed(processes: int) -> int:
    """What `processes` web processes may open at most: each one's pool, overflow and health check."""
    settings = get_settings()
    return processes * (settings.db_pool_size + settings.db_max_overflow + 1)


def check_pool_fits(processes: int) -> str | None:
    """Why the web processes' pools would not fit the PostgreSQL server's max_connections (a message
    naming the settings to change), or None when they fit, on SQLite, or when the database cannot be
    asked (then /readyz says so)."""
    settings = get_settings()
    if settings.is_sqlite:
        return None
    try:
        with get_health_engine().connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT current_setting('max_connections')::int,"
                " current_setting('superuser_reserved_connections')::int"
            ).one()
    except Exception:
        return None
    max_connections, superuser = int(row[0]), int(row[1])
    available = max_connections - superuser - settings.db_reserved_connections
    needed = connections_needed(processes)
    if needed <= available:
        return None
    per_process = settings.db_pool_size + settings.db_max_overflow + 1
    return (
        f"{processes} web process(es) x {per_process} connections (PREFLAB_DB_POOL_SIZE="
        f"{settings.db_pool_size} + PREFLAB_DB_MAX_OVERFLOW={settings.db_max_overflow} + 1 for /readyz) "
        f"= {needed}, but PostgreSQL allows {available} (max_connections={max_connections} - "
        f"{superuser} superuser-reserved - PREFLAB_DB_RESERVED_CONNECTIONS="
        f"{settings.db_reserved_connections}): lower the pool settings or the number of web processes "
        "(--workers, PREFLAB_WEB_PROCESSES), or raise max_connections"
    )


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A unit of work outside a request (CLI, workers): commit on success, roll back on error."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
