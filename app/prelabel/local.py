"""Generate mode with trained policies: the pre-label Job when its request names `policy_models`, run on a
worker of queue "gpu" (torch and the GPU live there; the web tier never imports this module's loader).

It pages tasks with the endpoint path's Selection and builds the same generate Items (responses a task
still needs, the ids they will take, round-robin over the models), so new responses, their `model` (the
trained model's name) and suggestions go through the same Sink. Instead of requests, each model writes
its share of a few tasks at a time in one batched `generate`; those tasks' outcomes are written in one
transaction, so a task never ends up with one model's responses and not the other's, and a job delivered
again skips the tasks it already wrote. Nothing leaves the network: there is no endpoint, key or privacy
guard, no cost and no cache, and the log and result say where the texts came from."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from app.jobs.runtime import RunningJob
from app.kinds import kind_of
from app.models import Project
from app.prelabel.modes import Item, Plan
from app.prelabel.pipeline import Selection, Sink, build_or_skip, finish_run, read, task_loader
from app.prelabel.prompts import Compiled
from app.prelabel.redact import Redactor
from app.prelabel.runner import Outcome, Totals
from app.prelabel.schemas import LlmSettings, PrelabelRequest
from app.prelabel.service import LOCAL

TASKS_PER_STEP = 8  # tasks generated for (every model) between two writes and cancel checks
BATCH_SIZE = 8  # prompts in one forward pass
ABORT_AFTER = 10  # generations failed in a row, with none succeeding yet: the model cannot generate
# Plan wants endpoint settings to build calls; locally only the calls' messages are read.
NO_ENDPOINT = LlmSettings(base_url="http://localhost", model="local", credential="")


class Generation(Protocol):
    texts: list[str]
    tokens_in: int
    tokens_out: list[int]


class Generator(Protocol):
    """What mlcore/generate.py's Policy offers; tests may hand in another."""

    device: Any

    def prompt_tokens(self, prompt: Any) -> int: ...

    def generate(
        self, prompts: Sequence[Any], *, n: int, temperature: float, max_new_tokens: int, seed: int
    ) -> Sequence[Generation]: ...

    def close(self) -> None: ...


def load_generator(spec: dict[str, Any]) -> Generator:
    from mlcore.generate import load_policy  # torch: imported on the worker, when a job needs it

    return load_policy(spec["path"], weights=spec.get("weights"), batch_size=BATCH_SIZE)


def seed_for(model_id: int, n: int, task_ids: Sequence[int]) -> int:
    """The same model, tasks and count sample the same texts, in any process (a rerun reproduces a job)."""
    return zlib.crc32(f"{model_id}/{n}/{','.join(map(str, task_ids))}".encode()) & 0x7FFFFFFF


def described(specs: list[dict[str, Any]]) -> str:
    return ", ".join(f"model {s['id']} {s['name']!r} ({s['method']}, {s['weights']} weights)" for s in specs)


class LocalRun:
    """One job's loop: tasks in, texts from the loaded models, outcomes to the sink."""

    def __init__(
        self,
        job_id: int,
        params: dict[str, Any],
        project: Project,
        load: Callable[[dict[str, Any]], Generator],
    ) -> None:
        self.job_id = job_id
        self.request = PrelabelRequest.model_validate(params["request"])
        self.specs: list[dict[str, Any]] = params["policy_models"]
        self.by_label = {s["label"]: s for s in self.specs}
        self.temperature = float(params["temperature"])
        self.max_new_tokens = int(params["max_new_tokens"])
        self.load = load
        template = params["template"]
        redactor = Redactor(emails=False, phones=False)  # nothing is sent, so nothing needs hiding
        self.plan = Plan(
            mode="generate",
            settings=NO_ENDPOINT,
            template=Compiled(template["version"], template["system"], template["body"]),
            project_settings=project.settings,
            instructions=project.instructions,
            kind=kind_of(project),
            temperature=self.temperature,
            models=[s["label"] for s in self.specs],
            target=kind_of(project).responses_to_generate(project.settings, self.request.k),
            redactor=redactor,
        )
        self.selection = Selection(project.id, job_id, "generate", self.request)
        self.total = read(self.selection.count)
        info = {
            "mode": "generate",
            "sent_to": LOCAL,
            "generated_locally_by": described(self.specs),
            "models": self.plan.models,
            "policy_models": [{"id": s["id"], "name": s["name"]} for s in self.specs],
            "temperature": self.temperature,
            "max_new_tokens": self.max_new_tokens,
            "budget": self.request.budget.model_dump(),
        }
        self.sink = Sink(job_id, self.total, template["version"], info, redactor)
        self.totals = Totals()
        self.generators: dict[str, Generator] = {}
        self.failures_in_a_row = 0
        self.succeeded_once = False

    # ---- the loop ----------------------------------------------------------------------------------
    def run(self) -> Totals:
        load = task_loader(self.selection)
        cursor: int | None = None
        while self.totals.stopped is None:
            tasks, cursor = load(cursor)
            for start in range(0, len(tasks), TASKS_PER_STEP):
                items = [i for t in tasks[start : start + TASKS_PER_STEP] for i in self._build(t)]
                if not self._fits(items):
                    break
                outcomes = self._generate(items)
                for out in outcomes:
                    self._record(out)
                if self.sink.flush(outcomes, self.totals, False):
                    self._halt("cancelled", "cancelled by a lead")
                if self.totals.stopped is not None:
                    break
            if cursor is None:
                break
        self.sink.flush([], self.totals, True)
        return self.totals

    def _build(self, task: Any) -> list[Item]:
        return build_or_skip(self.plan, self.sink, task)

    def _halt(self, reason: str, detail: str) -> None:
        if self.totals.stopped is None:
            self.totals.stopped, self.totals.stop_detail = reason, detail

    def _fits(self, items: list[Item]) -> bool:
        """A token budget, as the endpoint path keeps it: the next tasks start only when their worst case
        (their prompts, and every response at max_new_tokens) fits what is left."""
        budget = self.request.budget.max_tokens
        if budget is None or not items:
            return True
        worst = sum(
            len(item.slots)
            * (self.generators[item.model].prompt_tokens(_messages(item)) + self.max_new_tokens)
            for item in items
        )
        spent = self.totals.tokens_in + self.totals.tokens_out
        if spent + worst <= budget:
            return True
        self._halt("budget", f"the next tasks would not fit the budget ({spent} tokens used)")
        return False

    def _generate(self, items: list[Item]) -> list[Outcome]:
        """Each model's items of these tasks, grouped by how many responses they need, one call each."""
        groups: dict[tuple[str, int], list[Item]] = {}
        for item in items:
            groups.setdefault((item.model, len(item.slots)), []).append(item)
        outcomes: list[Outcome] = []
        for (label, n), group in groups.items():
            spec = self.by_label[label]
            started = time.perf_counter()
            try:
                answers = self.generators[label].generate(
                    [_messages(item) for item in group],
                    n=n,
                    temperature=self.temperature,
                    max_new_tokens=self.max_new_tokens,
                    seed=seed_for(spec["id"], n, [item.task_id for item in group]),
                )
            except Exception as exc:  # out of memory, a prompt the template refuses…: these items' errors
                error = f"model {spec['id']} could not generate: {type(exc).__name__}: {exc}"[:500]
                outcomes.extend(Outcome(item=item, error=error) for item in group)
                continue
            latency = round((time.perf_counter() - started) * 1000)
            for item, answer in zip(group, answers, strict=True):
                outcomes.append(_outcome(item, answer, latency))
        return outcomes

    def _record(self, out: Outcome) -> None:
        t = self.totals
        t.tokens_in += out.tokens_in
        t.tokens_out += out.tokens_out
        if out.error is None:
            t.done += 1
            self.succeeded_once, self.failures_in_a_row = True, 0
            return
        t.errors += 1
        self.failures_in_a_row += 1
        if not self.succeeded_once and self.failures_in_a_row >= ABORT_AFTER:
            self._halt("failed", f"the first {ABORT_AFTER} generations failed: {out.error}")

    # ---- models ------------------------------------------------------------------------------------
    def open(self) -> str:
        """Loads every model (they stay loaded for the job: tasks alternate between them); the device."""
        for spec in self.specs:
            if not Path(spec["path"]).expanduser().is_dir():
                raise FileNotFoundError(
                    f"model {spec['id']} ({spec['name']}): its files are missing on this worker "
                    f"({spec['path']} is not a directory); the GPU workers must see the data dir"
                )
            self.generators[spec["label"]] = self.load(spec)
        return ", ".join(sorted({str(g.device) for g in self.generators.values()}))

    def close(self) -> None:
        for generator in self.generators.values():
            generator.close()
        self.generators.clear()


def _messages(item: Item) -> Any:
    # Every call of a generate item holds the same conversation (only the seed differs).
    return item.calls[0].body["messages"]


def _outcome(item: Item, answer: Generation, latency: int) -> Outcome:
    n = len(item.slots)
    out = Outcome(
        item=item,
        tokens_in=answer.tokens_in * n,  # each response reads the prompt, as n endpoint calls would
        tokens_out=sum(answer.tokens_out),
        latency_ms=latency,
    )
    texts = [t.strip() for t in answer.texts]
    if len(texts) != n or not all(texts):
        empty = sum(1 for t in texts if not t)
        out.error = f"the model generated empty text ({empty} of {n} responses were blank)"
    else:
        out.result = {"texts": texts}
    return out


def run_policy_job(
    running: RunningJob,
    params: dict[str, Any],
    project: Project,
    load: Callable[[dict[str, Any]], Generator] | None = None,
) -> str:
    """Run a claimed generate job with trained models; returns its final status."""
    try:
        run = LocalRun(running.id, params, project, load or load_generator)
    except Exception as exc:
        return running.fail(f"the pre-label job could not start: {exc}", log=type(exc).__name__)
    try:
        device = run.open()  # reports no progress: run_job's lease beats meanwhile
    except Exception as exc:
        run.close()
        return running.fail(f"could not load the models: {exc}"[:1000], log="nothing generated")
    try:
        running.log(
            f"generating locally by {described(run.specs)} on {device}: up to {run.total} tasks, "
            f"template v{run.plan.template.version}, temperature {run.temperature}, at most "
            f"{run.max_new_tokens} new tokens a response; nothing leaves this network, so no endpoint, "
            "key or privacy guard is involved"
            + (
                "; temperature 0 is greedy: a model asked for several responses to one prompt writes "
                "the same text each time"
                if run.temperature == 0
                else ""
            ),
        )
        totals = run.run()
    finally:
        run.close()
    summary = (
        f"{totals.done} suggestions, {totals.errors} errors, {sum(run.sink.skipped.values())} skipped; "
        f"{totals.tokens_in}+{totals.tokens_out} tokens, generated locally by "
        + ", ".join(f"model {s['id']} {s['name']!r}" for s in run.specs)
    )
    return finish_run(running, totals, summary)
