"""bench/faults.py, scenario A: the annotation loop over HTTP while the web tier and the database
connections are killed. Every submit carries a UUID made by the client and is sent again, the same UUID,
until an answer in 2xx acknowledges it; the database then says what was stored."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from bench.faults_stack import Options, Row, Stack, WebTier
from bench.queue import Conn

REQUEST_TIMEOUT_S = 15.0
RETRY_S = 0.2
OVERLAPS = (1, 3)


@dataclass
class Tally:
    """What the clients of one project saw."""

    attempted: int = 0
    acked: set[str] = field(default_factory=set)
    refused: Counter[int] = field(default_factory=Counter)  # 4xx answers to a submit: not retried
    unacked: set[str] = field(default_factory=set)  # still unacknowledged when the clients gave up
    server_errors: int = 0
    no_answer: int = 0  # refused connections, resets, timeouts
    drained: int = 0  # annotators who were told "nothing left" (204)
    ok: list[tuple[float, float]] = field(default_factory=list)  # each 2xx: when sent, when answered


class Client:
    """One annotator's keep-alive connection. Any failure closes it and answers None: the caller retries."""

    def __init__(self, port: int, token: str, tally: Tally) -> None:
        self.port, self.token, self.tally = port, token, tally
        self.conn: Conn | None = None

    async def call(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes] | None:
        sent = time.monotonic()
        try:
            if self.conn is None:
                opened = asyncio.open_connection("127.0.0.1", self.port)
                reader, writer = await asyncio.wait_for(opened, REQUEST_TIMEOUT_S)
                self.conn = Conn(reader, writer, f"127.0.0.1:{self.port}", self.token)
            answer = await asyncio.wait_for(self.conn.request(method, path, body), REQUEST_TIMEOUT_S)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            self.close()
            self.tally.no_answer += 1
            return None
        if answer[0] >= 500:
            self.tally.server_errors += 1
        elif answer[0] < 300:
            self.tally.ok.append((sent, time.monotonic()))
        return answer

    def close(self) -> None:
        if self.conn is not None:
            self.conn.writer.close()
            self.conn = None


@dataclass
class Clock:
    """When the annotators stop: once the faults are over and the load has run a while after the last."""

    stop_at: float
    faults_done: bool = False

    def running(self) -> bool:
        return not self.faults_done or time.monotonic() < self.stop_at

    def give_up(self) -> bool:
        """An unacknowledged submit is given up on (and reported) only well after the faults ended."""
        return self.faults_done and time.monotonic() > self.stop_at + 90.0


async def annotate(client: Client, pid: int, clock: Clock) -> None:
    tally = client.tally
    try:
        while clock.running():
            answer = await client.call("POST", f"/api/v1/projects/{pid}/next")
            if answer is None or answer[0] != 200:
                if answer is not None and answer[0] == 204:
                    tally.drained += 1
                    return
                await asyncio.sleep(RETRY_S)
                continue
            claim = orjson.loads(answer[1])
            key = str(uuid.uuid4())
            body = orjson.dumps(
                {
                    "task_id": claim["task"]["id"],
                    "assignment_id": claim["assignment"]["id"],
                    "result": {"choice": claim["assignment"]["order"][0], "strength": 1},
                    "lead_time_ms": 1000,
                }
            )
            tally.attempted += 1
            while True:
                answer = await client.call("PUT", f"/api/v1/annotations/{key}", body)
                if answer is not None and answer[0] < 300:
                    tally.acked.add(key)
                    break
                if answer is not None and 400 <= answer[0] < 500 and answer[0] not in (408, 429):
                    tally.refused[answer[0]] += 1
                    break
                if clock.give_up():
                    tally.unacked.add(key)
                    break
                await asyncio.sleep(RETRY_S)
    finally:
        client.close()


def fault_plan(stack: Stack, web: WebTier, seconds: float, quick: bool) -> list[Callable[[], str]]:
    if stack.backend == "sqlite":
        return [web.kill_all] * (2 if quick else 3)

    def terminate() -> str:
        stack.terminate_connections()
        return "pg_terminate_backend of the database's connections"

    cycle = [web.kill_worker, terminate, web.kill_all]
    return cycle * (1 if quick else max(1, int(seconds // 30)))


def run_faults(
    plan: list[Callable[[], str]], seconds: float, done: list[tuple[float, str]], clock: Clock
) -> None:
    """The faults, each noted with the moment it began. A fault returns once what it killed was started
    again; the load then runs `seconds / (faults + 1)` before the next fault, and as long after the last."""
    every = seconds / (len(plan) + 1)
    try:
        for fault in plan:
            time.sleep(every)
            at = time.monotonic()
            try:
                done.append((at, fault()))
            except Exception as exc:  # reported; the clients go on retrying
                done.append((at, f"a fault that failed ({type(exc).__name__}: {exc})"))
    finally:
        clock.stop_at = max(clock.stop_at, time.monotonic() + every)
        clock.faults_done = True


def seed(options: Options) -> dict[int, tuple[int, list[str]]]:
    """Per overlap: a pairwise project of `tasks` tasks and its annotators' API tokens."""
    from app.core.db import session_scope
    from app.models import Role
    from tests import factories

    out = {}
    for overlap in OVERLAPS:
        with session_scope() as session:
            project = factories.make_project(session, settings={"overlap": overlap, "lease_minutes": 10})
            factories.make_tasks(session, project, options.tasks)
            tokens = []
            for _ in range(options.annotators):
                user = factories.make_user(session)
                factories.add_member(session, project, user, Role.annotator)
                tokens.append(factories.make_token(session, user))
            out[overlap] = (project.id, tokens)
    return out


def count(stack: Stack, overlap: int, project_id: int, tally: Tally, faults: list[tuple[float, str]]) -> Row:
    from sqlalchemy import select

    from app.core.db import session_scope
    from app.models import Annotation, Task

    with session_scope() as session:
        stored = session.execute(
            select(Annotation.uuid, Annotation.user_id, Annotation.task_id).where(
                Annotation.project_id == project_id
            )
        ).all()
        counters = dict(
            session.execute(select(Task.id, Task.annotation_count).where(Task.project_id == project_id))
            .tuples()
            .all()
        )
    uuids = {r.uuid for r in stored}
    per_task = Counter(r.task_id for r in stored)
    twice = sum(c - 1 for c in Counter((r.user_id, r.task_id) for r in stored).values() if c > 1)
    mismatched = sum(1 for tid, n in counters.items() if n != per_task.get(tid, 0))
    # From a fault to the first acknowledged request sent after it.
    recovery = [
        min(done for sent, done in tally.ok if sent >= at) - at
        for at, _ in faults
        if any(sent >= at for sent, _ in tally.ok)
    ]
    row = Row(
        backend=stack.backend,
        scenario=f"annotation loop, overlap {overlap}",
        operations=tally.attempted,
        acknowledged=len(tally.acked),
        stored=len(stored),
        lost=len(tally.acked - uuids),
        duplicated=(len(stored) - len(uuids)) + twice,
        over_overlap=sum(1 for n in per_task.values() if n > overlap),
        recovery_s=recovery,
    )
    kinds = Counter(what for _, what in faults)
    row.notes.append("faults: " + ", ".join(f"{n}x {what}" for what, n in kinds.items()))
    row.notes.append(
        f"answers: {tally.server_errors} 5xx, {tally.no_answer} without an answer (refused, reset, timed"
        f" out); submits refused: {dict(tally.refused) or 'none'}; annotators drained to 204:"
        f" {tally.drained}"
    )
    row.problems += [what for _, what in faults if what.startswith("a fault that failed")]
    if mismatched:
        row.problems.append(f"{mismatched} tasks whose annotation_count differs from their annotations")
    if tally.unacked:
        row.problems.append(f"{len(tally.unacked)} submits never acknowledged")
    if uuids - tally.acked - tally.unacked:
        row.notes.append(f"{len(uuids - tally.acked - tally.unacked)} stored whose submit was refused")
    return row


def annotation_scenario(stack: Stack, options: Options) -> list[Row]:
    projects = seed(options)
    web = WebTier(stack)
    web.start()
    tallies = {overlap: Tally() for overlap in OVERLAPS}
    faults: list[tuple[float, str]] = []
    plan = fault_plan(stack, web, options.seconds, options.quick)
    overlaps = " and ".join(map(str, OVERLAPS))
    print(
        f"{stack.backend}: annotation loop, {options.annotators} annotators on each of overlap {overlaps},"
        f" {options.seconds:.0f} s, {len(plan)} faults",
        flush=True,
    )

    clock = Clock(time.monotonic() + options.seconds)

    async def load() -> None:
        clients = [
            annotate(Client(web.port, token, tallies[overlap]), pid, clock)
            for overlap, (pid, tokens) in projects.items()
            for token in tokens
        ]
        await asyncio.gather(*clients)

    chaos = threading.Thread(target=run_faults, args=(plan, options.seconds, faults, clock), daemon=True)
    try:
        chaos.start()
        asyncio.run(load())
        chaos.join()
    finally:
        with contextlib.suppress(Exception):
            web.stop()
    from app.core.db import get_engine

    get_engine().dispose()  # this process's own connections were terminated with the others
    rows = [count(stack, overlap, projects[overlap][0], tallies[overlap], faults) for overlap in OVERLAPS]
    if web.orphans:
        rows[0].problems.append(f"{web.orphans} processes of a killed web tier still ran a second later")
    return rows
