"""Rounds: a project run as turns of the loop (label → snapshot → train → score/generate → label).

A round is a window of time. Its labels are the annotations made in the window; its snapshot, reward
model and policy are the ones the lead tied to it, or else the latest ready snapshot taken in the window
and the latest models trained on that snapshot. Starting the next round closes the current one and
freezes its figures, so the rounds page compares like with like: did this round's labels agree more, did
the reward model that ordered this round's queue predict this round's votes, which model won.

The figures of a round come from its labels alone:
- agreement between annotators (percent agreement and Krippendorff's alpha, nominal);
- humans vs the LLM judge, and humans vs the reward model that scored the tasks: the share of non-tied
  human pair votes where the judge / the reward model prefers the same response (Wilson 95 % interval);
- a Bradley-Terry leaderboard of the models behind the responses, from the round's votes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth import audit
from app.auth.policies import get_in_project, of_project
from app.core.errors import InvalidInput
from app.kinds import kind_of
from app.loop.leaderboard import Game, fit, games_of
from app.loop.schemas import (
    RoundCreate,
    RoundJob,
    RoundList,
    RoundModel,
    RoundRead,
    RoundSnapshot,
    RoundUpdate,
)
from app.models import Annotation, Job, Project, Round, Snapshot, Suggestion, Task, TrainedModel, User, utcnow
from app.quality import metrics
from app.quality.stats import sample_answers

POLICY_METHODS = ("sft", "dpo", "kto")
BOOTSTRAP = 200


def rounds_of(session: Session, project: Project) -> list[Round]:
    return list(session.scalars(select(Round).where(Round.project_id == project.id).order_by(Round.number)))


def round_for(session: Session, *, project: Project, round_id: int) -> Round:
    return get_in_project(session, Round, round_id, project, missing=f"round {round_id} not found")


def start_round(session: Session, *, project: Project, user: User, data: RoundCreate) -> Round:
    """Close the open round (freezing its figures) and open the next. The first round covers the project
    from its creation, so the labels made before anyone thought of rounds are round 1's."""
    existing = rounds_of(session, project)
    now = utcnow()
    for open_round in (r for r in existing if r.closed_at is None):
        open_round.metrics = round_metrics(session, project, open_round.started_at, now)
        open_round.closed_at = now
    number = (existing[-1].number if existing else 0) + 1
    created = Round(
        project_id=project.id,
        number=number,
        name=data.name.strip() or f"Round {number}",
        notes=data.notes,
        started_at=now if existing else project.created_at,
        created_by_id=user.id,
        metrics={},
    )
    session.add(created)
    session.flush()
    audit.record(
        session,
        "round.start",
        user_id=user.id,
        project_id=project.id,
        target=("round", created.id),
        number=number,
    )
    return created


def _model_on_project(session: Session, project: Project, model_id: int, methods: tuple[str, ...]) -> None:
    model = session.get(TrainedModel, model_id)
    snapshot = session.get(Snapshot, model.snapshot_id) if model and model.snapshot_id else None
    if model is None or not of_project(snapshot, project):
        raise InvalidInput(f"model {model_id} was not trained on a snapshot of this project")
    if model.method not in methods:
        raise InvalidInput(f"model {model_id} is a {model.method} model, not {' or '.join(methods)}")


def update_round(
    session: Session, *, project: Project, round_: Round, data: RoundUpdate, user: User
) -> Round:
    changes = data.model_dump(exclude_unset=True)
    if changes.get("snapshot_id") is not None:
        snapshot = session.get(Snapshot, changes["snapshot_id"])
        if not of_project(snapshot, project):
            raise InvalidInput(f"snapshot {changes['snapshot_id']} is not a snapshot of this project")
    if changes.get("reward_model_id") is not None:
        _model_on_project(session, project, changes["reward_model_id"], ("reward",))
    if changes.get("policy_model_id") is not None:
        _model_on_project(session, project, changes["policy_model_id"], POLICY_METHODS)
    for name in ("snapshot_id", "reward_model_id", "policy_model_id"):
        if name in changes:
            setattr(round_, name, changes[name])
    if changes.get("name") is not None:
        round_.name = changes["name"].strip() or round_.name
    if changes.get("notes") is not None:
        round_.notes = changes["notes"]
    audit.record(
        session,
        "round.update",
        user_id=user.id,
        project_id=project.id,
        target=("round", round_.id),
        fields=sorted(changes),
    )
    return round_


# ------------------------------------------------------------------------------------------ figures


def _window(column: Any, start: datetime, end: datetime | None) -> list[Any]:
    return [column >= start] + ([column < end] if end is not None else [])


def _latest(session: Session, task_ids: set[int], source: str) -> dict[int, tuple[dict[str, Any], str]]:
    """Each task's latest good suggestion from a source ("judge", "score"): (result, model)."""
    found: dict[int, tuple[dict[str, Any], str]] = {}
    ids = sorted(task_ids)
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            select(Suggestion.task_id, Suggestion.result, Suggestion.model)
            .where(
                Suggestion.task_id.in_(ids[start : start + 1000]),
                Suggestion.of_kind(source),
                Suggestion.error.is_(None),
            )
            .order_by(Suggestion.id)
        )
        found.update({tid: (result, model) for tid, result, model in rows})
    return found


def round_metrics(
    session: Session, project: Project, start: datetime, end: datetime | None
) -> dict[str, Any]:
    kind = kind_of(project)
    rows = session.execute(
        select(Annotation.task_id, Annotation.user_id, Annotation.result, Task.responses)
        .join(Task, Task.id == Annotation.task_id)
        .where(
            Annotation.project_id == project.id,
            Annotation.status != "rejected",
            *_window(Annotation.created_at, start, end),
        )
    ).all()
    tasks_created = session.scalar(
        select(func.count())
        .select_from(Task)
        .where(Task.project_id == project.id, *_window(Task.created_at, start, end))
    )
    task_ids = {r[0] for r in rows}
    sample = [(tid, uid, result, [str(x["id"]) for x in responses]) for tid, uid, result, responses in rows]
    nominal, _ = sample_answers(project, sample)
    figures: dict[str, Any] = {
        "annotations": len(rows),
        "tasks_labelled": len(task_ids),
        "annotators": len({r[1] for r in rows}),
        "tasks_created": int(tasks_created or 0),
        "percent_agreement": metrics.percent_agreement(nominal, bootstrap=BOOTSTRAP).as_dict(),
        "alpha": metrics.krippendorff_alpha(nominal, bootstrap=BOOTSTRAP).as_dict(),
    }
    if not kind.compares_responses:
        return figures
    judges = _latest(session, task_ids, "judge") if kind.has_judge_board else {}
    scores = _latest(session, task_ids, "score")
    judge_hits = judge_n = reward_hits = reward_n = 0
    scorers: set[str] = set()
    games: list[Game] = []
    for tid, _uid, result, responses in rows:
        votes = kind.pair_votes([str(x["id"]) for x in responses], result)
        games.extend(games_of(responses, votes))
        for (x, y), outcome in votes.items():
            if outcome == 0:
                continue
            preferred = x if outcome > 0 else y
            judged = kind.judge_prefers(judges[tid][0], (x, y)) if tid in judges else None
            if judged is not None:
                judge_n += 1
                judge_hits += judged == preferred
            by_id = scores.get(tid, ({}, ""))[0].get("scores") or {}
            if x in by_id and y in by_id and by_id[x] != by_id[y]:
                reward_n += 1
                reward_hits += (by_id[x] > by_id[y]) == (outcome > 0)
                scorers.add(scores[tid][1])
    board = fit(games, bootstrap=BOOTSTRAP)
    figures.update(
        {
            "judge_agreement": metrics.wilson(judge_hits, judge_n).as_dict(),
            "reward_agreement": metrics.wilson(reward_hits, reward_n).as_dict(),
            "reward_models": sorted(scorers),
            "leaderboard": board["models"][:5],
            "games": board["games"],
        }
    )
    return figures


def _auto(session: Session, project: Project, round_: Round) -> dict[str, Any]:
    """The round's snapshot and models: tied by the lead, else the latest in the window."""
    snapshot = session.get(Snapshot, round_.snapshot_id) if round_.snapshot_id else None
    if snapshot is None:
        snapshot = session.scalars(
            select(Snapshot)
            .where(
                Snapshot.project_id == project.id,
                Snapshot.status == "ready",
                *_window(Snapshot.created_at, round_.started_at, round_.closed_at),
            )
            .order_by(Snapshot.id.desc())
            .limit(1)
        ).first()

    def model(explicit: int | None, methods: tuple[str, ...]) -> TrainedModel | None:
        if explicit:
            return session.get(TrainedModel, explicit)
        if snapshot is None:
            return None
        return session.scalars(
            select(TrainedModel)
            .where(TrainedModel.snapshot_id == snapshot.id, TrainedModel.method.in_(methods))
            .order_by(TrainedModel.id.desc())
            .limit(1)
        ).first()

    return {
        "snapshot": snapshot,
        "reward_model": model(round_.reward_model_id, ("reward",)),
        "policy_model": model(round_.policy_model_id, POLICY_METHODS),
    }


def _jobs(session: Session, project: Project, round_: Round) -> list[Job]:
    return list(
        session.scalars(
            select(Job)
            .where(
                Job.project_id == project.id,
                Job.of_kind("scoring", "prelabel", "training", "export"),
                *_window(Job.created_at, round_.started_at, round_.closed_at),
            )
            .order_by(Job.id)
            .limit(50)
        )
    )


def _model_read(model: TrainedModel | None) -> RoundModel | None:
    if model is None:
        return None
    evaluated = (model.metrics or {}).get("eval") or {}
    return RoundModel(
        id=model.id,
        name=model.name,
        method=model.method,
        accuracy=evaluated.get("accuracy", evaluated.get("rewards/accuracies")),
        eval_loss=evaluated.get("loss"),
    )


def round_view(session: Session, project: Project, round_: Round) -> RoundRead:
    tied = _auto(session, project, round_)
    snapshot: Snapshot | None = tied["snapshot"]
    live = round_.closed_at is None
    jobs = _jobs(session, project, round_)
    return RoundRead(
        id=round_.id,
        number=round_.number,
        name=round_.name,
        notes=round_.notes,
        started_at=round_.started_at,
        closed_at=round_.closed_at,
        open=live,
        snapshot=(
            RoundSnapshot(
                id=snapshot.id,
                version=snapshot.version,
                format=snapshot.format,
                rows=(snapshot.manifest or {}).get("counts", {}),
                tied=round_.snapshot_id is not None,
            )
            if snapshot
            else None
        ),
        reward_model=_model_read(tied["reward_model"]),
        policy_model=_model_read(tied["policy_model"]),
        jobs=[
            RoundJob(id=j.id, kind=j.kind, status=j.status, mode=(j.params or {}).get("mode")) for j in jobs
        ],
        metrics=round_metrics(session, project, round_.started_at, None) if live else round_.metrics,
    )


def rounds_view(session: Session, project: Project) -> RoundList:
    return RoundList(items=[round_view(session, project, r) for r in rounds_of(session, project)])


def tie_choices(session: Session, project: Project) -> tuple[list[Snapshot], list[TrainedModel]]:
    """What a lead can tie to a round: the project's ready snapshots and the models trained on them."""
    snapshots = session.scalars(
        select(Snapshot)
        .where(Snapshot.project_id == project.id, Snapshot.status == "ready")
        .order_by(Snapshot.id.desc())
        .limit(50)
    )
    models = session.scalars(
        select(TrainedModel)
        .join(Snapshot, Snapshot.id == TrainedModel.snapshot_id)
        .where(Snapshot.project_id == project.id)
        .order_by(TrainedModel.id.desc())
        .limit(50)
    )
    return list(snapshots), list(models)
