"""Generate with trained policies: the request, what is refused before anything is queued, the page's choice
of source, and the job's local loop with a stand-in for the torch generator (mlcore/generate.py
is tested in tests/mlcore/test_generate.py, and the whole path on a real gpu worker in
tests/training/test_policy_generate.py). No torch here: this runs in both the SQLite and PostgreSQL passes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core import queue
from app.core.db import session_scope
from app.models import AuditEvent, Job, Project, Role, Snapshot, Task, TrainedModel, User, utcnow
from app.prelabel import local
from app.prelabel.job import run_prelabel_job
from app.prelabel.schemas import PrelabelRequest
from app.prelabel.service import LOCAL
from tests import factories
from tests.conftest import sign_in
from tests.prelabel.conftest import job_row, start, suggestions_of

PROMPTS = ["Explain DNS.", "Explain TLS.", "Why is the sky blue?"]


def _policy(
    session: Session, project: Project, path: Path, *, name: str = "policy v1", **extra: Any
) -> TrainedModel:
    """A trained causal model of `project` (so its leads may use it), its files at `path`."""
    version = int(session.scalar(select(func.count()).where(Snapshot.project_id == project.id)) or 0) + 1
    snapshot = Snapshot(project_id=project.id, version=version, format="sft", status="ready")
    session.add(snapshot)
    session.flush()
    path.mkdir(parents=True, exist_ok=True)
    values = {"name": name, "method": "sft", "weights": "full", "path": str(path), **extra}
    return factories.make_model(session, snapshot, **values)


def _pairwise(session: Session, prompts: list[Any] = PROMPTS, **extra: Any) -> tuple[Project, User]:
    lead = factories.make_user(session)
    project = factories.make_project(session, kind="pairwise", lead=lead)
    project.llm = {}  # no endpoint settings: a policy needs none
    for key, value in extra.items():
        setattr(project, key, value)
    for i, prompt in enumerate(prompts):
        factories.make_task(session, project, prompt, [], external_id=f"p-{i}")
    session.flush()
    return project, lead


# ---- the request -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mode": "judge", "policy_models": [1]}, "apply to generate only"),
        ({"mode": "label", "max_new_tokens": 64}, "apply to generate only"),
        ({"mode": "generate", "policy_models": [1, 1]}, "policy_models must be distinct"),
        ({"mode": "generate", "policy_models": list(range(1, 12))}, "at most 10"),
        ({"mode": "generate", "policy_models": [1], "models": ["gpt"]}, "not both"),
        ({"mode": "generate", "max_new_tokens": 64}, "max_new_tokens applies to policy_models"),
        ({"mode": "generate", "policy_models": [1], "max_new_tokens": 0}, "greater than or equal to 1"),
        ({"mode": "generate", "policy_models": [1], "max_new_tokens": 10_000}, "less than or equal to 8192"),
    ],
)
def test_the_request_keeps_policy_fields_to_generate(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PrelabelRequest.model_validate(body)


def test_a_policy_request_has_defaults() -> None:
    request = PrelabelRequest.model_validate({"mode": "generate", "policy_models": [3, 1]})
    assert request.policy_models == [3, 1] and request.max_new_tokens is None and request.models == []
    assert PrelabelRequest.model_validate({"mode": "generate"}).policy_models == []


# ---- starting a job ----------------------------------------------------------------------------------


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[Any], str]]:
    """What would go to the broker: recorded, not sent, so no worker of a later test finds these ids."""
    messages: list[tuple[str, list[Any], str]] = []
    monkeypatch.setattr(queue, "send_task", lambda name, args, queue: messages.append((name, args, queue)))
    return messages


def test_a_lead_starts_a_policy_job_on_the_gpu_queue_without_endpoint_settings(
    client: TestClient, db: Session, tmp_path: Path, sent: list[Any]
) -> None:
    # private, with an endpoint the allow-list refuses: generating locally sends nothing, so it may go
    project, lead = _pairwise(db, is_private=True)
    project.llm = {"base_url": "https://api.example.com/v1", "model": "gpt"}
    model = _policy(db, project, tmp_path / "policy", name="policy v1")
    auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    url = f"/api/v1/projects/{project.id}/prelabel"
    refused = client.post(url, json={"mode": "generate"}, headers=auth)
    assert refused.status_code == 422 and "is private" in refused.json()["detail"]  # the endpoint would
    answer = client.post(
        url,
        json={"mode": "generate", "policy_models": [model.id], "max_new_tokens": 64, "temperature": 0.9},
        headers=auth,
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["tasks"] == 3 and answer.json()["sent_to"] == LOCAL
    job = db.get_one(Job, answer.json()["job_id"])
    assert job.kind == "prelabel" and job.status == "queued" and "settings" not in job.params
    assert job.params["policy_models"] == [
        {
            "id": model.id,
            "name": "policy v1",
            "label": "policy v1",
            "path": str(tmp_path / "policy"),
            "weights": "full",
            "method": "sft",
            "base_model": "base",
        }
    ]
    assert job.params["models"] == ["policy v1"] and job.params["sent_to"] == LOCAL
    assert (job.params["max_new_tokens"], job.params["temperature"]) == (64, 0.9)
    assert sent == [("prelabel.run", [job.id], "gpu")]  # torch lives on the gpu workers
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "prelabel.start")).one()
    assert event.details["policy_models"] == [model.id] and event.details["sent_to"] == LOCAL


def test_what_cannot_generate_is_refused_before_anything_is_queued(
    client: TestClient, db: Session, tmp_path: Path, sent: list[Any]
) -> None:
    project, lead = _pairwise(db)
    other, _ = _pairwise(db)
    theirs = _policy(db, other, tmp_path / "theirs")  # trained on a project this lead does not lead
    reward = _policy(db, project, tmp_path / "reward", name="rm", method="reward")
    gone = _policy(db, project, tmp_path / "gone", name="gone")
    shutil.rmtree(tmp_path / "gone")
    ours = _policy(db, project, tmp_path / "ours")
    annotator = factories.make_user(db)
    factories.add_member(db, project, annotator, Role.annotator)
    auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    url = f"/api/v1/projects/{project.id}/prelabel"
    cases = [
        ([theirs.id], 404, f"model {theirs.id} not found"),
        ([987654], 404, "model 987654 not found"),
        ([ours.id, reward.id], 422, "is a reward model: it scores responses and cannot write them"),
        ([gone.id], 422, "its files are missing"),
    ]
    for ids, status, message in cases:
        answer = client.post(url, json={"mode": "generate", "policy_models": ids}, headers=auth)
        assert answer.status_code == status and message in answer.json()["detail"], (ids, answer.text)
    budget = {"mode": "generate", "policy_models": [ours.id], "budget": {"max_cost": 1}}
    answer = client.post(url, json=budget, headers=auth)
    assert answer.status_code == 422 and "costs nothing" in answer.json()["detail"]
    judge = client.post(url, json={"mode": "judge", "policy_models": [ours.id]}, headers=auth)
    assert judge.status_code == 422 and "apply to generate only" in judge.json()["detail"]
    as_annotator = {"Authorization": f"Bearer {factories.make_token(db, annotator)}"}
    answer = client.post(url, json={"mode": "generate", "policy_models": [ours.id]}, headers=as_annotator)
    assert answer.status_code == 403
    assert db.scalar(select(func.count()).select_from(Job).where(Job.kind == "prelabel")) == 0 and not sent
    # an administrator may generate with any model, also one no snapshot of theirs trained
    admin = factories.make_user(db, is_admin=True)
    loose = factories.make_model(db, None, name="imported", method="dpo", path=str(tmp_path / "ours"))
    as_admin = {"Authorization": f"Bearer {factories.make_token(db, admin)}"}
    answer = client.post(
        url, json={"mode": "generate", "policy_models": [theirs.id, loose.id]}, headers=as_admin
    )
    assert answer.status_code == 202, answer.text


def test_two_models_with_one_name_are_told_apart(db: Session, tmp_path: Path) -> None:
    from app.prelabel.service import policy_labels

    project, _ = _pairwise(db)
    first = _policy(db, project, tmp_path / "a", name="policy")
    second = _policy(db, project, tmp_path / "b", name="policy")
    third = _policy(db, project, tmp_path / "c", name="baseline")
    assert policy_labels([first, second, third]) == [
        f"policy (model {first.id})",
        f"policy (model {second.id})",
        "baseline",
    ]


# ---- the page ----------------------------------------------------------------------------------------


def test_the_page_offers_the_endpoint_or_the_trained_models_a_lead_may_use(
    client: TestClient, db: Session, tmp_path: Path, sent: list[Any]
) -> None:
    project, lead = _pairwise(db)
    other, _ = _pairwise(db)
    mine = _policy(db, project, tmp_path / "mine", name="our sft policy")
    _policy(db, project, tmp_path / "rm", name="our reward model", method="reward")
    _policy(db, other, tmp_path / "theirs", name="their policy")
    csrf = sign_in(client, lead.id)
    page = client.get(f"/projects/{project.id}/prelabel")
    assert page.status_code == 200
    assert 'name="source" value="endpoint"' in page.text and 'name="source" value="policy"' in page.text
    assert f'name="policy_models" value="{mine.id}"' in page.text and "our sft policy" in page.text
    assert "our reward model" not in page.text and "their policy" not in page.text
    form = {
        "csrf_token": csrf,
        "mode": "generate",
        "status": "open",
        "only_missing": "on",
        "source": "policy",
    }
    none_chosen = client.post(f"/projects/{project.id}/prelabel", data=form)
    assert none_chosen.status_code == 422 and "choose at least one trained model" in none_chosen.text
    started = client.post(
        f"/projects/{project.id}/prelabel",
        data={**form, "policy_models": str(mine.id), "max_new_tokens": "48", "models": "ignored"},
    )
    assert started.status_code == 303, started.text
    job = db.get_one(Job, int(started.headers["location"].rsplit("/", 1)[1]))
    assert [m["id"] for m in job.params["policy_models"]] == [mine.id] and job.params["max_new_tokens"] == 48
    shown = client.get(started.headers["location"])
    assert shown.status_code == 200 and "Nothing was sent" in shown.text and "our sft policy" in shown.text
    listed = client.get(f"/projects/{project.id}/prelabel")
    assert LOCAL in listed.text
    endpoint = client.post(f"/projects/{project.id}/prelabel", data={**form, "source": "endpoint"})
    assert endpoint.status_code == 303  # the endpoint, as before (the instance default here)
    job = db.get_one(Job, int(endpoint.headers["location"].rsplit("/", 1)[1]))
    assert "policy_models" not in job.params and job.params["request"]["policy_models"] == []
    assert [queue for _, _, queue in sent] == ["gpu", "default"]


# ---- the job's local loop, with a stand-in generator -------------------------------------------------


@dataclass
class Answer:
    texts: list[str]
    tokens_in: int
    tokens_out: list[int]


@dataclass
class Stand:
    """Stands in for mlcore.generate.Policy: answers name the model, the prompt and the seed."""

    spec: dict[str, Any]
    log: list[tuple[str, int, int, int]]
    closed: list[str]
    empty: str | None = None  # prompts containing this get a blank answer
    hook: Callable[[int], None] | None = None
    device: str = "cpu"
    seen: list[Any] = field(default_factory=list)

    def prompt_tokens(self, prompt: Any) -> int:
        return 10

    def generate(
        self, prompts: Any, *, n: int, temperature: float, max_new_tokens: int, seed: int
    ) -> list[Answer]:
        self.log.append((self.spec["label"], len(prompts), n, seed))
        self.seen.extend(prompts)
        if self.hook is not None:
            self.hook(len(self.log))
        answers = []
        for prompt in prompts:
            question = prompt[-1]["content"]
            blank = self.empty is not None and self.empty in question
            texts = ["  " if blank else f"{self.spec['label']} on {question!r}, draft {j}" for j in range(n)]
            answers.append(Answer(texts, 10, [3] * n))
        return answers

    def close(self) -> None:
        self.closed.append(self.spec["label"])


@dataclass
class Loader:
    log: list[tuple[str, int, int, int]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    loaded: list[dict[str, Any]] = field(default_factory=list)
    empty: str | None = None
    hook: Callable[[int], None] | None = None
    stands: list[Stand] = field(default_factory=list)

    def __call__(self, spec: dict[str, Any]) -> Stand:
        self.loaded.append(spec)
        self.stands.append(Stand(spec, self.log, self.closed, self.empty, self.hook))
        return self.stands[-1]


@pytest.fixture
def loader(monkeypatch: pytest.MonkeyPatch) -> Loader:
    stand = Loader()
    monkeypatch.setattr(local, "load_generator", stand)
    return stand


def _tasks(project_id: int) -> list[Task]:
    with session_scope() as s:
        rows = list(s.scalars(select(Task).where(Task.project_id == project_id).order_by(Task.id)))
        for row in rows:
            s.expunge(row)
        return rows


@pytest.mark.usefixtures("committed")
def test_two_policies_answer_round_robin_and_a_rerun_adds_nothing(loader: Loader, tmp_path: Path) -> None:
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Explain BGP."}]
    with session_scope() as s:
        project, lead = _pairwise(s, prompts=[*PROMPTS, chat])
        old = _policy(s, project, tmp_path / "old", name="policy v1")
        new = _policy(s, project, tmp_path / "new", name="policy v2")
        job_id = start(s, project, lead, mode="generate", policy_models=[new.id, old.id])
        ids = (project.id, new.id, old.id)
    assert run_prelabel_job(job_id) == "succeeded"
    project_id, new_id, old_id = ids
    assert [spec["id"] for spec in loader.loaded] == [new_id, old_id]  # each loaded once, for the job
    assert sorted(loader.closed) == ["policy v1", "policy v2"]  # and given back after it
    assert [(label, size, n) for label, size, n, _ in loader.log] == [
        ("policy v2", 4, 1),
        ("policy v1", 4, 1),
    ]
    for task in _tasks(project_id):
        assert [r["id"] for r in task.responses] == ["a", "b"]
        assert [r["model"] for r in task.responses] == ["policy v2", "policy v1"]
        question = task.prompt if isinstance(task.prompt, str) else task.prompt[-1]["content"]
        assert all(repr(question) in r["text"] for r in task.responses)
    rows = suggestions_of(job_id)
    assert len(rows) == 8 and all(r.kind == "generate" and r.error is None and r.cost == 0 for r in rows)
    assert all(r.tokens_in == 10 and r.tokens_out == 3 and r.latency_ms is not None for r in rows)
    assert {r.model for r in rows} == {"policy v1", "policy v2"}
    job = job_row(job_id)
    assert job.result["done"] == 8 and job.result["errors"] == 0 and job.result["cost"] == 0
    assert job.result["tokens_in"] == 80 and job.result["tokens_out"] == 24 and job.result["requests"] == 0
    assert (
        job.result["sent_to"] == LOCAL and f"model {new_id} 'policy v2'" in job.result["generated_locally_by"]
    )
    assert "generating locally by model" in job.log and "nothing leaves this network" in job.log
    with session_scope() as s:
        again = start(s, s.get_one(Project, project_id), lead, mode="generate", policy_models=[old_id])
    assert run_prelabel_job(again) == "succeeded"
    assert job_row(again).result["skipped"] == {"already has enough responses": 4}
    assert len(loader.log) == 2 and all(len(t.responses) == 2 for t in _tasks(project_id))


@pytest.mark.usefixtures("committed")
def test_prompts_reach_the_policy_as_conversations(loader: Loader, tmp_path: Path) -> None:
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Explain BGP."}]
    with session_scope() as s:
        project, lead = _pairwise(s, prompts=["Explain DNS.", chat])
        policy = _policy(s, project, tmp_path / "p")
        job_id = start(s, project, lead, mode="generate", policy_models=[policy.id])
    assert run_prelabel_job(job_id) == "succeeded"
    (stand,) = loader.stands
    plain, conversation = stand.seen
    assert plain == [
        {"role": "system", "content": "You are a helpful, honest and harmless assistant."},
        {"role": "user", "content": "Explain DNS."},
    ]
    assert conversation == chat
    assert loader.log[0][2] == 2  # one policy writes both responses of a task: n=2 in one call


@pytest.mark.usefixtures("committed")
def test_a_blank_generation_is_the_items_error_and_leaves_the_task_as_it_was(
    loader: Loader, tmp_path: Path
) -> None:
    loader.empty = "TLS"
    with session_scope() as s:
        project, lead = _pairwise(s)
        policy = _policy(s, project, tmp_path / "p")
        job_id = start(s, project, lead, mode="generate", policy_models=[policy.id])
    assert run_prelabel_job(job_id) == "succeeded"
    (failed,) = [r for r in suggestions_of(job_id) if r.error]
    assert (
        failed.error == "the model generated empty text (2 of 2 responses were blank)" and failed.result == {}
    )
    by_prompt = {t.prompt: t.responses for t in _tasks(project.id)}
    assert by_prompt["Explain TLS."] == [] and len(by_prompt["Explain DNS."]) == 2
    assert job_row(job_id).result["errors"] == 1 and job_row(job_id).result["done"] == 2


class WorkerDied(BaseException):
    """What a killed worker looks like from inside the job: nothing after it runs."""


@pytest.mark.usefixtures("committed")
def test_a_job_delivered_again_finishes_without_duplicating_responses(loader: Loader, tmp_path: Path) -> None:
    def die_on_third(calls: int) -> None:
        if calls == 3:  # the second step's first model: the first step (8 tasks) is written
            raise WorkerDied

    loader.hook = die_on_third
    with session_scope() as s:
        project, lead = _pairwise(s, prompts=[f"Question {i}?" for i in range(12)])
        one = _policy(s, project, tmp_path / "one", name="one")
        two = _policy(s, project, tmp_path / "two", name="two")
        job_id = start(s, project, lead, mode="generate", policy_models=[one.id, two.id])
    with pytest.raises(WorkerDied):
        run_prelabel_job(job_id)
    assert job_row(job_id).status == "running" and len(suggestions_of(job_id)) == 16
    assert sorted(loader.closed) == ["one", "two"]  # the memory is given back even then
    loader.hook = None
    with session_scope() as s:  # its lease lapses (no heartbeat), and the sweep sends it again
        s.get_one(Job, job_id).heartbeat_at = utcnow() - timedelta(hours=1)
    assert run_prelabel_job(job_id) == "succeeded"
    assert job_row(job_id).attempts == 2
    rows = suggestions_of(job_id)
    assert len(rows) == 24 and len({(r.task_id, r.model) for r in rows}) == 24
    for task in _tasks(project.id):
        assert [(r["id"], r["model"]) for r in task.responses] == [("a", "one"), ("b", "two")]


@pytest.mark.usefixtures("committed")
def test_cancel_stops_after_the_step_in_progress(loader: Loader, tmp_path: Path) -> None:
    holder: dict[str, int] = {}

    def cancel(calls: int) -> None:
        with session_scope() as s:
            s.get_one(Job, holder["job"]).cancel_requested = True

    loader.hook = cancel
    with session_scope() as s:
        project, lead = _pairwise(s, prompts=[f"Question {i}?" for i in range(20)])
        policy = _policy(s, project, tmp_path / "p")
        holder["job"] = start(s, project, lead, mode="generate", policy_models=[policy.id])
    assert run_prelabel_job(holder["job"]) == "cancelled"
    assert len(loader.log) == 1 and len(suggestions_of(holder["job"])) == 8  # one step, written whole
    assert "cancelled: 8 suggestions" in job_row(holder["job"]).log and loader.closed == ["policy v1"]


@pytest.mark.usefixtures("committed")
def test_a_token_budget_stops_before_the_next_step_would_pass_it(loader: Loader, tmp_path: Path) -> None:
    with session_scope() as s:
        project, lead = _pairwise(s, prompts=[f"Question {i}?" for i in range(12)])
        policy = _policy(s, project, tmp_path / "p")
        # a step of 8 tasks, 2 responses each, at worst (10 prompt + 5 new tokens) each: 240 tokens
        job_id = start(
            s,
            project,
            lead,
            mode="generate",
            policy_models=[policy.id],
            max_new_tokens=5,
            budget={"max_tokens": 300},
        )
    assert run_prelabel_job(job_id) == "succeeded"
    job = job_row(job_id)
    assert job.result["stopped"] == "budget" and job.result["tokens_in"] + job.result["tokens_out"] == 208
    assert len(suggestions_of(job_id)) == 8 and "stopped at the budget" in job.log


@pytest.mark.usefixtures("committed")
def test_files_missing_on_the_worker_fail_the_job_before_loading(loader: Loader, tmp_path: Path) -> None:
    with session_scope() as s:
        project, lead = _pairwise(s)
        policy = _policy(s, project, tmp_path / "p")
        job_id = start(s, project, lead, mode="generate", policy_models=[policy.id])
    shutil.rmtree(tmp_path / "p")  # gone between queueing and running
    assert run_prelabel_job(job_id) == "failed"
    job = job_row(job_id)
    assert "its files are missing on this worker" in (job.error or "") and loader.loaded == []
    assert suggestions_of(job_id) == []


@pytest.mark.usefixtures("committed")
def test_a_model_that_cannot_generate_fails_the_items_then_the_job(loader: Loader, tmp_path: Path) -> None:
    def out_of_memory(calls: int) -> None:
        raise RuntimeError("CUDA out of memory")

    loader.hook = out_of_memory
    with session_scope() as s:
        project, lead = _pairwise(s, prompts=[f"Question {i}?" for i in range(20)])
        policy = _policy(s, project, tmp_path / "p")
        job_id = start(s, project, lead, mode="generate", policy_models=[policy.id])
    assert run_prelabel_job(job_id) == "failed"
    job = job_row(job_id)
    assert (job.error or "").startswith("the first 10 generations failed: model")
    assert "RuntimeError: CUDA out of memory" in (job.error or "")
    rows = suggestions_of(job_id)
    assert len(rows) == 16 and all(r.error and not r.result for r in rows)  # two steps, then it stopped
    assert all(t.responses == [] for t in _tasks(project.id)) and loader.closed == ["policy v1"]
