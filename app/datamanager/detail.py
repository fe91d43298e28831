"""One task as the data manager opens it: its content, every answer with its reviews, its suggestions, its
flags and its history (the audit events whose target is the task). Flags and history are the leads'."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Annotation, AuditEvent, Project, Review, Suggestion, Task, TaskFlag, User
from app.quality import reviews
from app.quality.task_agreement import refresh_shown

SHOWN_SUGGESTIONS = 20
SHOWN_EVENTS = 100


@dataclass
class TaskDetail:
    task: Task
    answers: list[tuple[Annotation, list[Review]]]
    people: dict[int, str]  # annotators and reviewers, as the project names them (pseudonyms by default)
    shown: dict[int, list[str]]  # per answer, the response order its annotator saw
    suggestions: list[Suggestion]
    flags: list[TaskFlag] = field(default_factory=list)
    history: list[AuditEvent] = field(default_factory=list)
    actors: dict[int, str] = field(default_factory=dict)  # who did what in the history (e-mail addresses)


def task_detail(session: Session, project: Project, task: Task, *, lead: bool) -> TaskDetail:
    refresh_shown(session, project, [task])
    answers = reviews.task_reviews(session, task)
    suggestions = list(
        session.scalars(
            select(Suggestion)
            .where(Suggestion.task_id == task.id)
            .order_by(Suggestion.id.desc())
            .limit(SHOWN_SUGGESTIONS)
        )
    )
    flags: list[TaskFlag] = []
    history: list[AuditEvent] = []
    if lead:
        flags = list(
            session.scalars(select(TaskFlag).where(TaskFlag.task_id == task.id).order_by(TaskFlag.id))
        )
        history = list(
            session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.target_type == "task",
                    AuditEvent.target_id == str(task.id),
                    AuditEvent.project_id == project.id,
                )
                .order_by(AuditEvent.id.desc())
                .limit(SHOWN_EVENTS)
            )
        )
    named = {a.user_id for a, _ in answers} | {r.reviewer_id for _, rs in answers for r in rs}
    named |= {f.user_id for f in flags if f.user_id is not None}
    actor_ids = {e.user_id for e in history if e.user_id is not None}
    actors = (
        {
            uid: email
            for uid, email in session.execute(select(User.id, User.email).where(User.id.in_(actor_ids)))
        }
        if actor_ids
        else {}
    )
    return TaskDetail(
        task=task,
        answers=answers,
        people=reviews.annotator_names(session, project, sorted(named)),
        shown=reviews.orders_shown(session, [a for a, _ in answers]),
        suggestions=suggestions,
        flags=flags,
        history=history,
        actors=actors,
    )
