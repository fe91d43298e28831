"""The async engine of a pre-label job: `concurrency` workers share one `AsyncOpenAI` client, each with one
request in flight at a time, paced by a requests-per-minute cap; the client retries 429 and 5xx with
backoff, honouring Retry-After. Answers collect in memory and a flusher hands them to the job's sink (a
database write in a thread) every half second, which also reports a cancel. Knows nothing of the database.

Budget: an item starts only when what is spent, plus what items in flight may still spend, plus this
item's worst case (its prompt at 3 characters a token, `max_tokens` out) fits; started items finish, so
the job stops cleanly at the budget and never past it when token counts are honest."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai
import orjson

from app.core.aio import run_to_end
from app.core.hosts import host_of
from app.credentials.binding import Key
from app.prelabel.endpoint import cost_of
from app.prelabel.modes import BadOutput, Item, interpret
from app.prelabel.schemas import LlmSettings

QUEUE_PER_WORKER = 4
NO_KEY = "no-key"  # the client insists on a key; with none, each request omits the Authorization header
NO_AUTHORIZATION: Any = {"headers": {"Authorization": openai.Omit()}}
ABORT_AFTER = 10  # failed requests in a row, with none succeeding yet: the endpoint is unusable


@dataclass(slots=True)
class Outcome:
    item: Item
    result: dict[str, Any] | None = None
    error: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    latency_ms: int | None = None
    cached: bool = False
    fresh: list[tuple[str, str, str, int, int]] = field(default_factory=list)  # key, model, content, in, out


@dataclass(slots=True)
class Totals:
    done: int = 0
    errors: int = 0
    cached: int = 0
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    stopped: str | None = None  # budget | cancelled | failed
    stop_detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "errors": self.errors,
            "cached": self.cached,
            "requests": self.requests,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": round(self.cost, 6),
        }


@dataclass(slots=True)
class Limits:
    max_cost: float | None = None
    max_tokens: int | None = None
    flush_every_s: float = 0.5
    flush_max: int = 500


@dataclass(slots=True)
class Source:
    """Where items come from. `load(cursor)` reads a page of tasks and the next cursor (None at the end)
    and `lookup(items)` fills answers from the cache: both read the database, in a thread. `build(task)`
    turns a task into items on the event loop, a slice at a time: CPU work in a second thread would
    fight the loop for the GIL and delay every answer waiting to be read."""

    load: Callable[[Any], tuple[list[Any], Any]]
    build: Callable[[Any], list[Item]]
    lookup: Callable[[list[Item]], None]


# flush(outcomes, totals, final) -> whether a cancel was requested
Flush = Callable[[list[Outcome], Totals, bool], bool]
BUILD_SLICE = 16


class RateLimiter:
    """Spaces request starts evenly: at most `per_minute` a minute, no bursts."""

    def __init__(self, per_minute: int) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.next_at = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self.lock:
            now = time.monotonic()
            start = max(now, self.next_at)
            self.next_at = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


def endpoint_client(settings: LlmSettings, key: Key) -> openai.AsyncOpenAI:
    """The client every request of a job goes through. It carries the key only where the key's credential
    allows (checked again here, where the key meets the URL: InvalidInput otherwise, before anything is
    sent). It follows no redirect, for any project: the allow-list and the credential's hosts are checked
    against base_url's host before the job starts, and a 307 would resend the same body to a host nobody
    checked (a private project's prompts with it). An LLM API that redirects a POST is misconfigured
    anyway; the item's error names where it pointed, for the lead to put in base_url, where the checks run."""
    secret = key.for_host(host_of(settings.base_url))
    return openai.AsyncOpenAI(
        base_url=settings.base_url,
        api_key=secret or NO_KEY,
        max_retries=settings.max_retries,
        timeout=settings.timeout_s,
        http_client=openai.DefaultAsyncHttpxClient(follow_redirects=False),
    )


def api_error(exc: Exception) -> str:
    if isinstance(exc, openai.APIStatusError) and exc.response.is_redirect:
        return (
            f"the endpoint answered {exc.status_code} with a redirect to "
            f"{exc.response.headers.get('location') or 'nowhere'}: not followed (a redirect could carry "
            "the prompt to a host the allow-list never checked), and nothing was sent there. "
            "Set base_url to the address that answers."
        )[:500]
    if isinstance(exc, openai.APIStatusError):
        return f"{exc.status_code} from the endpoint: {exc.message}"[:500]
    if isinstance(exc, openai.APITimeoutError):
        return "the endpoint did not answer in time (timeout_s), after the client's retries"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot reach the endpoint: {exc.__cause__ or exc}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


class Engine:
    def __init__(self, settings: LlmSettings, key: Key, limits: Limits, source: Source, flush: Flush) -> None:
        self.settings = settings
        self.key = key
        self.options: Any = {} if key.value else NO_AUTHORIZATION
        self.limits = limits
        self.source = source
        self.flush = flush
        self.totals = Totals()
        self.pending: list[Outcome] = []
        self.reserved_cost = 0.0
        self.reserved_tokens = 0
        self.failures_in_a_row = 0
        self.succeeded_once = False
        self.finished = False
        self.stop = asyncio.Event()
        self.wake = asyncio.Event()

    # ---- budget ---------------------------------------------------------------------------------
    def _worst_case(self, item: Item) -> tuple[float, int]:
        fresh = [c for c in item.calls if c.cached is None]
        t_in = sum(c.estimate_in for c in fresh)
        t_out = self.settings.max_tokens * len(fresh)
        return cost_of(t_in, t_out, self.settings), t_in + t_out

    def _fits(self, cost: float, tokens: int) -> bool:
        lim, t = self.limits, self.totals
        if lim.max_cost is not None and t.cost + self.reserved_cost + cost > lim.max_cost:
            return False
        return (
            lim.max_tokens is None
            or t.tokens_in + t.tokens_out + self.reserved_tokens + tokens <= lim.max_tokens
        )

    def _halt(self, reason: str, detail: str) -> None:
        if self.totals.stopped is None:
            self.totals.stopped, self.totals.stop_detail = reason, detail
        self.stop.set()
        self.wake.set()

    # ---- one item ---------------------------------------------------------------------------------
    async def _process(self, client: openai.AsyncOpenAI, limiter: RateLimiter, item: Item) -> Outcome:
        out = Outcome(item=item, cached=all(c.cached is not None for c in item.calls))
        contents: list[str] = []
        started = time.perf_counter()
        for call in item.calls:
            if call.cached is not None:
                contents.append(call.cached["content"])
                continue
            await limiter.wait()
            self.totals.requests += 1
            try:
                # post() with the body already encoded, rather than chat.completions.create(): the typed
                # call spends ~0.6 ms of CPU transforming and ~0.3 ms copying and encoding a body we build
                # as plain JSON anyway, on the one thread that drives every request. post() keeps the
                # client's retries, Retry-After handling and error classes.
                raw = await client.post(
                    "/chat/completions",
                    content=call.payload or orjson.dumps(call.body),
                    cast_to=bytes,
                    options=self.options,
                )
            except openai.OpenAIError as exc:
                out.error = api_error(exc)
                self._count_failure(out.error)
                break
            try:
                data = orjson.loads(raw)
                content = data["choices"][0]["message"].get("content") or ""
                usage = data.get("usage") or {}
                t_in, t_out = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
            except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError):
                out.error = f"the endpoint's answer is not a chat completion: {raw[:120]!r}"
                self._count_failure(out.error)
                break
            self.succeeded_once = True
            self.failures_in_a_row = 0
            out.tokens_in += t_in
            out.tokens_out += t_out
            out.fresh.append((call.key, call.body["model"], content, t_in, t_out))
            contents.append(content)
        if any(c.cached is None for c in item.calls):
            out.latency_ms = round((time.perf_counter() - started) * 1000)
        out.cost = cost_of(out.tokens_in, out.tokens_out, self.settings)
        if out.error is None:
            try:
                out.result = interpret(item, contents)
            except BadOutput as exc:
                out.error = str(exc)
                out.fresh = []  # never cache an answer that could not be used: a re-run asks again
        return out

    def _count_failure(self, message: str) -> None:
        self.failures_in_a_row += 1
        if not self.succeeded_once and self.failures_in_a_row >= ABORT_AFTER:
            self._halt("failed", f"the endpoint failed the first {ABORT_AFTER} requests: {message}")

    def _record(self, out: Outcome) -> None:
        t = self.totals
        t.tokens_in += out.tokens_in
        t.tokens_out += out.tokens_out
        t.cost += out.cost
        if out.error is not None:
            t.errors += 1
        else:
            t.done += 1
            t.cached += out.cached
        self.pending.append(out)
        if len(self.pending) >= self.limits.flush_max:
            self.wake.set()

    # ---- the pipeline -----------------------------------------------------------------------------
    async def _produce(self, queue: asyncio.Queue[Item | None], workers: int) -> None:
        cursor: Any = None
        try:
            while not self.stop.is_set():
                tasks, cursor = await asyncio.to_thread(self.source.load, cursor)
                items: list[Item] = []
                for i, task in enumerate(tasks, 1):
                    items.extend(self.source.build(task))
                    if i % BUILD_SLICE == 0:
                        await asyncio.sleep(0)  # let answers that arrived meanwhile be read
                if items:
                    await asyncio.to_thread(self.source.lookup, items)
                for item in items:
                    if self.stop.is_set():
                        break
                    await queue.put(item)
                if cursor is None:
                    break
        except Exception as exc:  # reading tasks failed: stop, keep what was done
            self._halt("failed", f"reading the tasks failed: {type(exc).__name__}: {exc}")
        for _ in range(workers):  # the workers drain once stopped, so these always find room
            await queue.put(None)

    async def _work(
        self, client: openai.AsyncOpenAI, limiter: RateLimiter, queue: asyncio.Queue[Item | None]
    ) -> None:
        while (item := await queue.get()) is not None:
            if self.stop.is_set():
                continue  # drain, so the producer is never stuck on a full queue
            cost, tokens = self._worst_case(item)
            if not self._fits(cost, tokens):
                spent = (
                    f"{self.totals.cost:.4f} spent, {self.totals.tokens_in + self.totals.tokens_out} tokens"
                )
                self._halt("budget", f"the next item would not fit the budget ({spent})")
                continue
            self.reserved_cost += cost
            self.reserved_tokens += tokens
            try:
                out = await self._process(client, limiter, item)
            except Exception as exc:  # one odd item never takes the job down
                out = Outcome(item=item, error=f"internal error: {type(exc).__name__}: {exc}"[:500])
            finally:
                self.reserved_cost -= cost
                self.reserved_tokens -= tokens
            self._record(out)

    async def _flusher(self) -> None:
        """Hands answers to the sink; the only caller of flush while the workers run, so two writes
        never overlap."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.limits.flush_every_s)
            self.wake.clear()
            batch, self.pending = self.pending, []
            if await asyncio.to_thread(self.flush, batch, self.totals, False):
                self._halt("cancelled", "cancelled by a lead")
            if self.finished or self.totals.stopped in ("cancelled", "failed"):
                return

    async def run(self) -> Totals:
        workers = self.settings.concurrency
        queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=workers * QUEUE_PER_WORKER)
        limiter = RateLimiter(self.settings.requests_per_minute)
        async with endpoint_client(self.settings, self.key) as client:
            producer = asyncio.create_task(self._produce(queue, workers))
            tasks = [asyncio.create_task(self._work(client, limiter, queue)) for _ in range(workers)]
            flusher = asyncio.create_task(self._flusher())
            everything: asyncio.Future[Any] = asyncio.gather(producer, *tasks)
            watched: set[asyncio.Future[Any]] = {everything, flusher}
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            if not everything.done():  # cancelled or failed: stop what is in flight now
                producer.cancel()
                for t in tasks:
                    t.cancel()
            await asyncio.gather(everything, return_exceptions=True)
            self.finished = True
            self.wake.set()
            await flusher
        batch, self.pending = self.pending, []
        await asyncio.to_thread(self.flush, batch, self.totals, True)
        return self.totals


def run_engine(settings: LlmSettings, key: Key, limits: Limits, source: Source, flush: Flush) -> Totals:
    return run_to_end(lambda: Engine(settings, key, limits, source, flush).run(), name="prelabel")
