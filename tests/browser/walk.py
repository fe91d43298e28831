"""Every page type of Preflab, each with something on it, for the tests that walk them all: axe-core's
accessibility pass (test_accessibility.py) and the check that nothing loads from another host
(test_offline.py). The demo projects as `preflab serve` seeds them, plus what the demo lacks: answers,
reviews, suggestions, a flag, a snapshot, two training runs with curves, a model and rounds."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.auth import accounts, invites
from app.core.db import session_scope
from app.demo.seed import seed_demo
from app.models import (
    ChatTurn,
    Comment,
    Conversation,
    JobMetric,
    Notification,
    Project,
    Role,
    Task,
    User,
    utcnow,
)
from tests import factories

STEPS = 30  # of a training run made here


def loss_at(step: int, run: int = 0) -> float:
    return 2.0 * math.exp(-step / (12 + 6 * run)) + 0.3 + 0.01 * (step % 3)


def add_metrics(session: Any, job_id: int, steps: range, run: int = 0) -> None:
    """What a TRL run logs (workers/trainers): loss and learning rate each step, an eval every 5."""
    for step in steps:
        session.add(JobMetric(job_id=job_id, step=step, name="loss", value=loss_at(step, run)))
        session.add(JobMetric(job_id=job_id, step=step, name="learning_rate", value=5e-5 * (1 - step / 100)))
        session.add(JobMetric(job_id=job_id, step=step, name="epoch", value=step / STEPS))
        if step % 5 == 0:
            session.add(JobMetric(job_id=job_id, step=step, name="eval_loss", value=loss_at(step, run) + 0.1))
            accuracy = min(1.0, 0.5 + step / 60 + 0.05 * run)
            session.add(JobMetric(job_id=job_id, step=step, name="rewards/accuracies", value=accuracy))


def make_run(session: Any, project: Any, user: Any, *, status: str, run: int, steps: int = STEPS) -> int:
    job = factories.make_job(session, project, user, kind="training")
    job.status = status
    job.progress = 1.0 if status == "succeeded" else steps / 100
    job.params = {"method": "reward", "base_model": f"/models/tiny-reward-{run}", "snapshot_id": None}
    job.started_at = utcnow()
    add_metrics(session, job.id, range(1, steps + 1), run)
    session.flush()
    return job.id


@dataclass
class Stop:
    path: str
    shown: str  # something on the page that shows it rendered in full (htmx blocks loaded too)
    name: str  # what the page is, in test ids and screenshot names


@dataclass
class Walk:
    admin: str
    annotator: str
    signed_out: list[Stop] = field(default_factory=list)
    annotator_pages: list[Stop] = field(default_factory=list)
    admin_pages: list[Stop] = field(default_factory=list)


def seed_walk() -> Walk:
    with session_scope() as s:
        admin_email, _ = seed_demo(s, admin_password=factories.PASSWORD)
        admin = s.scalars(select(User).where(User.email == admin_email)).one()
        annotator = factories.make_user(s, name="Ann Otator")
        # the first demo project of each kind (the images demo is a second pairwise one)
        every = list(s.scalars(select(Project).order_by(Project.id)))
        projects = {p.kind: p for p in reversed(every)}
        for project in every:
            factories.add_member(s, project, annotator, Role.annotator)
        pairwise = projects["pairwise"]
        tasks = list(s.scalars(select(Task).where(Task.project_id == pairwise.id).order_by(Task.id).limit(8)))
        for task in tasks[:3]:
            annotation = factories.make_annotation(s, task, annotator)
            if task is tasks[0]:
                factories.make_review(s, annotation, admin, "accept")
        factories.make_flag(s, tasks[1], annotator, "broken")
        for task in tasks[3:]:
            factories.make_suggestion(s, task)
        snapshot = factories.make_snapshot(s, pairwise, admin)
        runs = [make_run(s, pairwise, admin, status="succeeded", run=i) for i in range(2)]
        model = factories.make_model(s, snapshot, path=str(factories.model_dir()))
        imported = factories.make_job(s, pairwise, admin)
        imported.status = "succeeded"
        closed = factories.make_round(s, pairwise, 1, closed_at=utcnow())
        closed.metrics = {
            "annotations": 3,
            "tasks_labelled": 3,
            "annotators": 1,
            "tasks_created": len(tasks),
            "percent_agreement": {"value": 0.7, "low": 0.5, "high": 0.85, "n": 12},
            "alpha": {"value": 0.4, "low": 0.1, "high": 0.6, "n": 12},
        }
        factories.make_round(s, pairwise, 2)
        on_task = {"project_id": pairwise.id, "task_id": tasks[0].id}
        question = Comment(**on_task, author_id=annotator.id, body="Is B right?")
        s.add(question)
        s.flush()
        answer = Comment(**on_task, author_id=admin.id, parent_id=question.id, body="Yes: see **the guide**.")
        s.add(answer)
        s.flush()
        s.add(Notification(user_id=annotator.id, kind="reply", comment_id=answer.id))
        chat = projects["chat"]
        conversation = Conversation(project_id=chat.id, user_id=annotator.id, title="Plan a day in Porto")
        s.add(conversation)
        s.flush()
        candidates = [
            {"id": cid, "model": model, "temperature": t, "text": text, "status": "done", "error": None}
            for cid, model, t, text in (("c1", "stub-small", 0.3, "Start at the **Ribeira**."),
                                        ("c2", "stub-large", 1.0, "Take the tram to Foz."))
        ]  # fmt: skip
        turn = ChatTurn(
            conversation_id=conversation.id, uuid=str(uuid.uuid4()), user_text="Plan a day in Porto",
            messages=[{"role": "user", "content": "Plan a day in Porto"}], candidates=candidates,
            order=["c2", "c1"], status="ready",
        )  # fmt: skip
        s.add(turn)
        s.flush()
        conversation.head_turn_id = turn.id
        invite = invites.create_invite(s, data=invites.InviteRequest(), actor=admin)[1].rsplit("/", 1)[1]
        reset = accounts.create_reset_link(s, user=factories.make_user(s), actor=admin)[0].rsplit("/", 1)[1]
        pid = pairwise.id
        kinds = {kind: p.id for kind, p in projects.items()}
        # every further demo project of a kind too, as <kind>-<n>
        seen: dict[str, int] = {}
        for project in every:
            seen[project.kind] = seen.get(project.kind, 0) + 1
            if seen[project.kind] > 1:
                kinds[f"{project.kind}-{seen[project.kind]}"] = project.id
        walk = Walk(admin_email, annotator.email)
        walk.signed_out = [
            Stop("/login", "main form", "login"),
            Stop("/no/such/page", "main", "not-found"),
            Stop(f"/invite/{invite}", "main form", "invite"),
            Stop(f"/reset/{reset}", "main form", "reset"),
        ]
        walk.annotator_pages = [
            Stop("/", "main", "home-annotator"),
            *(
                Stop(f"/projects/{p}/annotate", "#task, .task", f"annotate-{kind}")
                for kind, p in kinds.items()
            ),
            Stop(f"/projects/{pid}/me", "main", "my-figures"),
            Stop(f"/projects/{chat.id}/chat", "main", "chat-home"),
            Stop(f"/projects/{chat.id}/chat/{conversation.id}", "#turn section.task", "chat-judging"),
            Stop("/inbox", "main .inbox, main", "inbox"),
            Stop(f"/projects/{pid}/tasks/{tasks[0].id}/comments", "#comments-block", "task-thread"),
            Stop("/account", "main form", "account-annotator"),
        ]
        walk.admin_pages = [
            Stop("/", "main", "home"),
            *(Stop(f"/projects/{p}", "#loop-summary, main", f"overview-{kind}") for kind, p in kinds.items()),
            *(Stop(f"/projects/{p}/settings", "main form", f"settings-{kind}") for kind, p in kinds.items()),
            Stop(f"/projects/{chat.id}/chat/{conversation.id}", "details.chat-tree", "chat-tree"),
            Stop(f"/projects/{pid}/review", "main", "review-queue"),
            Stop(f"/projects/{pid}/review/{tasks[0].id}", ".annotation, .card", "review-task"),
            Stop(f"/projects/{pid}/dashboard", "table.annotators", "dashboard"),
            Stop(f"/projects/{pid}/leaderboard", "main", "leaderboard"),
            Stop(f"/projects/{pid}/loop", "#loop-summary", "loop"),
            Stop(f"/projects/{pid}/prelabel", "main form", "prelabel"),
            Stop(f"/projects/{pid}/prelabel/review", ".suggestion .suggested", "prelabel-review"),
            Stop(f"/projects/{pid}/members", "main table", "members"),
            Stop(f"/projects/{pid}/tasks", "main table", "tasks"),
            Stop(f"/projects/{pid}/tasks/{tasks[1].id}", "#task-detail", "task-detail"),
            Stop(f"/projects/{pid}/import", "main form", "import"),
            Stop(f"/projects/{pid}/exports", "#snapshots", "exports"),
            Stop(f"/snapshots/{snapshot.id}", "form[data-confirm]", "snapshot"),
            Stop(f"/jobs/{runs[0]}", "figure.chart canvas", "job-training"),
            Stop(f"/jobs/compare?ids={runs[0]},{runs[1]}", "figure.chart canvas", "jobs-compare"),
            Stop(f"/jobs/{imported.id}", "main", "job-import"),
            Stop("/models", "main table", "models"),
            Stop(f"/models/{model.id}", "main", "model"),
            Stop("/training/new", "main form", "training-new"),
            Stop("/projects/new", "main form", "project-new"),
            Stop("/admin/users", "main table", "admin-users"),
            Stop("/admin/credentials", "main", "admin-credentials"),
            Stop("/admin/settings", "main form", "admin-settings"),
            Stop("/account", "main form", "account"),
            Stop("/api/docs", "#swagger-ui .opblock", "api-docs"),
        ]
        return walk
