"""The claim queue and submits, against the real database (both back ends)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.core.db import get_sessionmaker, session_scope
from app.core.errors import Conflict
from app.labeling.queue import claim_next_task, shown_order
from app.labeling.schemas import AnnotationPut
from app.labeling.service import skip, submit_annotation
from app.models import Annotation, Assignment, Member, Project, Role, Suggestion, Task, User, utcnow
from tests import factories


def _project(db: Session, n_tasks: int = 3, **settings: object) -> tuple[Project, list[Task]]:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead, settings=dict(settings))
    return project, factories.make_tasks(db, project, n_tasks)


def _annotator(db: Session, project: Project) -> User:
    user = factories.make_user(db)
    factories.add_member(db, project, user, Role.annotator)
    return user


def _submit(
    db: Session,
    user: User,
    task: Task,
    choice: str | None = None,
    *,
    key: str | None = None,
    assignment_id: int | None = None,
):  # type: ignore[no-untyped-def]
    body = AnnotationPut(
        task_id=task.id,
        result={"choice": choice or task.responses[0]["id"], "strength": 1},
        assignment_id=assignment_id,
    )
    return submit_annotation(db, annotation_uuid=key or str(uuid.uuid4()), user=user, body=body)


def test_claims_follow_priority_then_age_and_record_the_shown_order(db: Session) -> None:
    project, tasks = _project(db, 3)
    tasks[2].priority = 5
    db.flush()
    user = _annotator(db, project)
    claim = claim_next_task(db, project=project, user=user)
    assert claim is not None and claim.task.id == tasks[2].id
    ids = [r["id"] for r in claim.task.responses]
    assert sorted(claim.assignment.order) == sorted(ids)
    assert claim.assignment.order == shown_order(ids, claim.assignment.seed)
    again = claim_next_task(db, project=project, user=user)
    assert again is not None and again.assignment.id == claim.assignment.id  # re-asking keeps the lease
    ahead = claim_next_task(db, project=project, user=user, ahead=1)
    assert ahead is not None and ahead.task.id == tasks[0].id  # the prefetched one: next by age
    assert claim_next_task(db, project=project, user=user).assignment.id == claim.assignment.id  # type: ignore[union-attr]


def test_overlap_one_hides_a_leased_task_from_others_until_the_lease_expires(db: Session) -> None:
    project, tasks = _project(db, 1)
    a, b = _annotator(db, project), _annotator(db, project)
    first = claim_next_task(db, project=project, user=a)
    assert first is not None
    assert claim_next_task(db, project=project, user=b) is None
    first.assignment.expires_at = first.assignment.expires_at - timedelta(hours=1)
    db.flush()
    second = claim_next_task(db, project=project, user=b)
    assert second is not None and second.task.id == tasks[0].id
    # a submit after the lease expired is still accepted: b's live lease reserved the only place though
    with pytest.raises(Conflict):
        _submit(db, b, tasks[0], assignment_id=second.assignment.id)  # b submits first
        _submit(db, a, tasks[0], assignment_id=first.assignment.id)
    assert db.scalar(select(func.count()).select_from(Annotation)) == 1


def test_a_late_submit_is_accepted_while_the_task_still_wants_annotations(db: Session) -> None:
    project, tasks = _project(db, 1, overlap=2)
    a = _annotator(db, project)
    claim = claim_next_task(db, project=project, user=a)
    assert claim is not None
    claim.assignment.expires_at = claim.assignment.expires_at - timedelta(hours=1)
    db.flush()
    assert _submit(db, a, tasks[0], assignment_id=claim.assignment.id).created
    db.refresh(tasks[0])
    assert tasks[0].annotation_count == 1 and tasks[0].status == "open"


def test_submit_is_idempotent_by_uuid_and_refuses_a_different_body(db: Session) -> None:
    project, tasks = _project(db, 1)
    user = _annotator(db, project)
    claim = claim_next_task(db, project=project, user=user)
    assert claim is not None
    key = str(uuid.uuid4())
    first = _submit(db, user, tasks[0], key=key, assignment_id=claim.assignment.id)
    again = _submit(db, user, tasks[0], key=key, assignment_id=claim.assignment.id)
    assert first.created and not again.created and again.annotation.id == first.annotation.id
    with pytest.raises(Conflict):
        _submit(db, user, tasks[0], tasks[0].responses[1]["id"], key=key)
    with pytest.raises(Conflict):  # the same person, a new uuid: still one annotation per task
        _submit(db, user, tasks[0])
    db.refresh(tasks[0])
    assert tasks[0].annotation_count == 1 and tasks[0].status == "done"
    assert db.get(Assignment, claim.assignment.id).status == "submitted"  # type: ignore[union-attr]


def test_skipped_tasks_go_to_others_but_never_back_to_the_skipper(db: Session) -> None:
    project, tasks = _project(db, 2)
    a, b = _annotator(db, project), _annotator(db, project)
    claim = claim_next_task(db, project=project, user=a)
    assert claim is not None and claim.task.id == tasks[0].id
    skip(db, assignment=claim.assignment, user=a, reason="not my language")
    assert claim_next_task(db, project=project, user=a).task.id == tasks[1].id  # type: ignore[union-attr]
    assert claim_next_task(db, project=project, user=b).task.id == tasks[0].id  # type: ignore[union-attr]


def test_results_are_checked_against_the_task_and_settings(db: Session) -> None:
    from app.core.errors import InvalidInput

    project, tasks = _project(db, 1, allow_ties=False)
    user = _annotator(db, project)
    for bad in ({"choice": "tie"}, {"choice": "zzz"}, {"choice": "a", "strength": 9}, {"pick": "a"}):
        with pytest.raises(InvalidInput):
            submit_annotation(
                db,
                annotation_uuid=str(uuid.uuid4()),
                user=user,
                body=AnnotationPut(task_id=tasks[0].id, result=bad),
            )
    assert db.scalar(select(func.count()).select_from(Annotation)) == 0


@pytest.mark.parametrize(("overlap", "n_tasks"), [(1, 60), (3, 20)])
def test_thirty_two_annotators_at_once_never_double_up(committed: None, overlap: int, n_tasks: int) -> None:
    """32 threads with their own connections claim and submit until the pool is empty."""
    with session_scope() as session:
        project, _tasks = _project(session, n_tasks, overlap=overlap)
        users = [_annotator(session, project) for _ in range(32)]
        project_id, user_ids = project.id, [u.id for u in users]
    errors: list[BaseException] = []
    start = threading.Barrier(len(user_ids))

    def work(user_id: int) -> None:
        try:
            start.wait()
            while True:
                with get_sessionmaker()() as session:
                    project = session.get_one(Project, project_id)
                    user = session.get_one(User, user_id)
                    claim = claim_next_task(session, project=project, user=user)
                    session.commit()
                    if claim is None:
                        return
                    body = AnnotationPut(
                        task_id=claim.task.id,
                        assignment_id=claim.assignment.id,
                        result={"choice": claim.assignment.order[0], "strength": 0},
                    )
                    submit_annotation(session, annotation_uuid=str(uuid.uuid4()), user=user, body=body)
                    session.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(uid,)) for uid in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    with session_scope() as session:
        rows = session.execute(
            select(Annotation.task_id, Annotation.user_id).where(Annotation.project_id == project_id)
        ).all()
        per_task = Counter(task_id for task_id, _ in rows)
        assert len(per_task) == n_tasks
        assert set(per_task.values()) == {overlap}
        assert len(set(rows)) == len(rows)  # nobody annotated a task twice
        counts = dict(
            session.execute(select(Task.id, Task.annotation_count).where(Task.project_id == project_id)).all()
        )
        assert counts == dict(per_task)
        assert (
            session.scalar(
                select(func.count())
                .select_from(Task)
                .where(Task.project_id == project_id, Task.status != "done")
            )
            == 0
        )


def test_a_late_answer_never_takes_a_place_someone_else_holds(db: Session) -> None:
    project, tasks = _project(db, 1)
    a, b = _annotator(db, project), _annotator(db, project)
    first = claim_next_task(db, project=project, user=a)
    assert first is not None
    first.assignment.expires_at -= timedelta(hours=1)
    db.flush()
    second = claim_next_task(db, project=project, user=b)  # reaps a's lease, takes the place
    assert second is not None
    with pytest.raises(Conflict), db.begin_nested():  # a refused request rolls back its savepoint
        _submit(db, a, tasks[0], assignment_id=first.assignment.id)
    assert _submit(db, b, tasks[0], assignment_id=second.assignment.id).created
    db.refresh(tasks[0])
    assert tasks[0].annotation_count == 1 and tasks[0].reserved == 0


def test_a_late_answer_after_reaping_is_kept_and_not_offered_again(db: Session) -> None:
    project, tasks = _project(db, 1, overlap=2)
    a, b = _annotator(db, project), _annotator(db, project)
    first = claim_next_task(db, project=project, user=a)
    assert first is not None
    first.assignment.expires_at -= timedelta(hours=1)
    db.flush()
    assert claim_next_task(db, project=project, user=b) is not None  # reaps a's lease
    db.refresh(first.assignment)
    assert first.assignment.status == "expired"
    assert _submit(db, a, tasks[0], assignment_id=first.assignment.id).created  # one place is still free
    db.refresh(first.assignment)
    db.refresh(tasks[0])
    assert first.assignment.status == "submitted"
    assert tasks[0].annotation_count == 1 and tasks[0].reserved == 1  # b's lease still holds its place
    assert claim_next_task(db, project=project, user=a) is None  # never offered to a again


def test_an_extra_condition_narrows_both_the_held_lease_and_the_claim(db: Session) -> None:
    project, (plain, suggested, gold, _) = _project(db, 4, gold_rate=1.0, overlap=2)
    factories.make_suggestion(db, suggested)
    factories.make_suggestion(db, gold)
    gold.gold = {"choice": gold.responses[0]["id"]}
    db.flush()
    user = _annotator(db, project)
    has_suggestion = exists().where(Suggestion.task_id == Task.id, Suggestion.of_kind("judge"))
    held = claim_next_task(db, project=project, user=user, extra=~has_suggestion, gold=False)
    assert held is not None and held.task.id == plain.id  # gold=False: no gold turn despite the rate
    claim = claim_next_task(db, project=project, user=user, extra=has_suggestion, gold=False)
    # the lease held on a task without a suggestion is not the answer; a gold task is never served
    assert claim is not None and claim.task.id == suggested.id and claim.assignment.id != held.assignment.id
    again = claim_next_task(db, project=project, user=user, extra=has_suggestion, gold=False)
    assert again is not None and again.assignment.id == claim.assignment.id
    other = _annotator(db, project)
    member = db.get(Member, (project.id, other.id))
    assert member is not None
    member.paused_at = utcnow()
    db.flush()
    assert claim_next_task(db, project=project, user=other, extra=has_suggestion, gold=False) is None
    member.paused_at = None
    db.flush()
    theirs = claim_next_task(db, project=project, user=other, extra=has_suggestion, gold=False)
    assert theirs is not None and theirs.task.id == suggested.id  # overlap 2: one place left
