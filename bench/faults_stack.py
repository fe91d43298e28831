"""bench/faults.py's machinery: a throwaway database, the bench's own Redis, the web tier and how each is
killed, and the rows of the report."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.queue import free_port

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# A short lease and a fast sweep, so that a job whose worker died is recovered within seconds.
BENCH_SETTINGS = {
    "PREFLAB_JOB_HEARTBEAT_TIMEOUT_S": "5",
    "PREFLAB_JOB_SWEEP_INTERVAL_S": "1",
    "PREFLAB_JOB_DISPATCH_GRACE_S": "5",
}


@dataclass
class Row:
    """One line of the report."""

    backend: str
    scenario: str
    operations: int
    acknowledged: int
    stored: int | None  # None: the scenario stores nothing of its own (overload)
    lost: int | None
    duplicated: int | None
    over_overlap: int | None = None
    stuck: int | None = None
    recovery_s: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # anything else that must not happen

    @property
    def failed(self) -> bool:
        return bool(self.lost or self.duplicated or self.stuck or self.over_overlap or self.problems)


# --------------------------------------------------------------------------------------------- processes


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A child in its own session (Ctrl-C of the bench reaches it through cleanup, not the terminal)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def kill9(*pids: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def descendants(pid: int) -> list[int]:
    with contextlib.suppress(psutil.NoSuchProcess):
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    return []


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL; its descendants too (a uvicorn's workers, a serve's worker)."""
    if proc is None:
        return
    family = descendants(proc.pid)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    kill9(*[pid for pid in family if alive(pid)])


def wait_until(check: Callable[[], bool], timeout: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return True
        time.sleep(every)
    return False


def http_ok(port: int, path: str = "/healthz") -> bool:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200


class RedisServer:
    """The bench's own redis-server, without persistence: a restart loses every message it held."""

    def __init__(self, log: Path) -> None:
        self.port, self.log = free_port(), log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> float:
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        self.proc = spawn(command, dict(os.environ), self.log)
        import redis

        client = redis.Redis.from_url(self.url)
        assert wait_until(lambda: bool(client.ping()), 20), "redis-server did not start"
        return time.monotonic()

    def kill(self) -> float:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        return time.monotonic()

    def stop(self) -> None:
        stop(self.proc)


@dataclass
class Stack:
    """A throwaway database (and data dir) for one back end, with the environment every process gets."""

    backend: str
    data: Path
    redis: RedisServer
    db_name: str = ""

    @classmethod
    def create(cls, backend: str) -> Stack:
        data = Path(tempfile.mkdtemp(prefix=f"preflab-faults-{backend}-"))
        stack = cls(backend, data, RedisServer(data / "redis.log"))
        if backend == "postgresql":
            import psycopg

            stack.db_name = f"preflab_faults_{os.getpid()}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{stack.db_name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{stack.db_name}"')
        stack.redis.start()
        os.environ.update(stack.env)  # this process seeds and counts through the app's own code
        subprocess.run(
            [sys.executable, "-m", "app.cli", "migrate"],
            cwd=ROOT,
            env=stack.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return stack

    @property
    def db_url(self) -> str:
        if self.backend == "postgresql":
            return f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.db_name}"
        return f"sqlite:///{self.data / 'preflab.db'}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PREFLAB_DATABASE_URL": self.db_url,
            "PREFLAB_BROKER_URL": self.redis.url,
            "PREFLAB_DATA_DIR": str(self.data),
            "PREFLAB_SECRET_KEY": "bench-faults",
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            **BENCH_SETTINGS,
        }

    def terminate_connections(self) -> int:
        """pg_terminate_backend of every session on the database but this one: how many."""
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.db_name,),
            ).fetchall()
        return len(rows)

    def drop(self) -> None:
        self.redis.stop()
        if self.backend == "postgresql":
            import psycopg

            from app.core.db import get_engine

            get_engine().dispose()
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        shutil.rmtree(self.data, ignore_errors=True)


class WebTier:
    """PostgreSQL: uvicorn with `workers` processes. SQLite: `preflab serve` (web and embedded worker)."""

    def __init__(self, stack: Stack, workers: int = 2) -> None:
        self.stack, self.workers, self.port = stack, workers, free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.orphans = 0  # processes of a killed tier still alive seconds later

    def command(self) -> list[str]:
        if self.stack.backend == "sqlite":
            return [sys.executable, "-m", "app.cli", "serve", "--no-seed", "--port", str(self.port)]
        server = f"app.main:create_app --factory --port {self.port} --workers {self.workers}"
        return [sys.executable, "-m", "uvicorn", *server.split(), "--log-level", "warning", "--no-access-log"]

    def start(self) -> None:
        self.proc = spawn(self.command(), self.stack.env, self.stack.data / "web.log")
        assert wait_until(lambda: http_ok(self.port), 180), "the web tier did not start"

    def worker_pids(self) -> list[int]:
        """uvicorn's worker processes (not its multiprocessing helpers)."""
        assert self.proc is not None
        found = []
        for pid in descendants(self.proc.pid):
            with contextlib.suppress(psutil.NoSuchProcess):
                if "spawn_main" in " ".join(psutil.Process(pid).cmdline()):
                    found.append(pid)
        return found

    def kill_worker(self) -> str:
        pids = self.worker_pids()
        kill9(pids[0])  # uvicorn's supervisor starts another
        return "kill -9 of a uvicorn worker"

    def kill_all(self) -> str:
        """kill -9 of the whole tier (the server, and on SQLite the worker it supervises), started again."""
        assert self.proc is not None
        family = descendants(self.proc.pid)
        kill9(self.proc.pid)
        if self.stack.backend == "postgresql":
            kill9(*family)  # uvicorn's workers would go on serving the socket
        self.proc.wait()
        self.start()
        time.sleep(1)  # serve's worker gets SIGTERM from its parent's death: give it a moment to end
        left = [pid for pid in family if alive(pid)]
        self.orphans += len(left)
        kill9(*left)
        return "kill -9 of preflab serve" if self.stack.backend == "sqlite" else "kill -9 of the web tier"

    def stop(self) -> None:
        stop(self.proc)


@dataclass(frozen=True)
class Options:
    seconds: float
    quick: bool
    annotators: int
    tasks: int
