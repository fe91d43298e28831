"""A project's quality figures (DESIGN §4.5): progress, throughput, agreement, position bias, gold accuracy,
time per task, and the same per annotator, with the flags a lead acts on.

Counts, times, position bias and throughput are SQL aggregations over every annotation. Agreement needs the
answers side by side: it is computed with numpy on the most recent SAMPLE_UNITS tasks that have two or more
answers (every such task in a smaller project), and says how many units it rests on. Gold scoring reads the
gold tasks' answers only. `stats_for` keeps the figures in project_stats and recomputes them when they are
older than a project-size dependent age, so the dashboard answers at once on a project of a million
annotations."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import Integer, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.security import pseudonym
from app.jobs.runtime import create_job
from app.models import (
    Annotation,
    Assignment,
    Job,
    Member,
    Project,
    ProjectStats,
    Suggestion,
    Task,
    User,
    utcnow,
)
from app.quality import metrics, scoring

SAMPLE_UNITS = 20_000
LOW_AGREEMENT = 0.6  # an annotator whose agreement with the others' majority is surely below this is flagged
TIME_BUCKETS = [(2, "< 2 s"), (5, "2-5 s"), (10, "5-10 s"), (30, "10-30 s"), (60, "30-60 s"),
                (120, "1-2 min"), (300, "2-5 min"), (None, "> 5 min")]  # fmt: skip
COUNTED = Annotation.status != "rejected"


def _bucket_expr() -> Any:
    seconds = Annotation.lead_time_ms / 1000.0
    whens = [(seconds < limit, i) for i, (limit, _) in enumerate(TIME_BUCKETS) if limit is not None]
    return case((Annotation.lead_time_ms.is_(None), -1), *whens, else_=len(TIME_BUCKETS) - 1)


def _median_bucket(counts: list[int]) -> str | None:
    total = sum(counts)
    if not total:
        return None
    running = 0
    for (_, label), n in zip(TIME_BUCKETS, counts, strict=True):
        running += n
        if running * 2 >= total:
            return label
    return None


def _per_annotator(session: Session, project: Project, floor_ms: float) -> dict[int, dict[str, Any]]:
    stmt = (
        select(
            Annotation.user_id,
            func.count(),
            func.avg(Annotation.lead_time_ms),
            func.sum(case((Annotation.lead_time_ms < floor_ms, 1), else_=0)),
            func.max(Annotation.created_at),
            func.sum(case((Annotation.status.in_(("accepted", "corrected")), 1), else_=0)),
        )
        .where(Annotation.project_id == project.id, COUNTED)
        .group_by(Annotation.user_id)
    )
    people: dict[int, dict[str, Any]] = {}
    for uid, n, mean_ms, fast, last, reviewed in session.execute(stmt):
        people[uid] = {
            "user_id": uid,
            "annotations": int(n),
            "mean_seconds": round(float(mean_ms) / 1000, 2) if mean_ms is not None else None,
            "fast_share": (int(fast or 0) / int(n)) if n else 0.0,
            "last_active": last.isoformat() if last else None,
            "reviewed": int(reviewed or 0),
            "time_buckets": [0] * len(TIME_BUCKETS),
        }
    buckets = (
        select(Annotation.user_id, _bucket_expr().label("b"), func.count())
        .where(Annotation.project_id == project.id, COUNTED)
        .group_by(Annotation.user_id, "b")
    )
    for uid, bucket, n in session.execute(buckets):
        if bucket is not None and bucket >= 0 and uid in people:
            people[uid]["time_buckets"][int(bucket)] = int(n)
    return people


def _position_bias(session: Session, project: Project) -> dict[int, tuple[int, int]]:
    """Pairwise: per annotator, (choices of the response shown first, choices that were not a tie)."""
    choice = Annotation.result["choice"].as_string()
    shown_first = Assignment.order[0].as_string()
    stmt = (
        select(
            Annotation.user_id,
            func.sum(case((choice == shown_first, 1), else_=0)),
            func.sum(case((choice != "tie", 1), else_=0)),
        )
        .join(Assignment, Assignment.id == Annotation.assignment_id)
        .where(Annotation.project_id == project.id, COUNTED)
        .group_by(Annotation.user_id)
    )
    return {uid: (int(first or 0), int(n or 0)) for uid, first, n in session.execute(stmt)}


def _throughput(session: Session, project: Project, days: int = 60) -> list[dict[str, Any]]:
    since = utcnow() - timedelta(days=days)
    day = func.date(Annotation.created_at)
    rows = session.execute(
        select(day, func.count())
        .where(Annotation.project_id == project.id, Annotation.created_at >= since)
        .group_by(day)
        .order_by(day)
    )
    return [{"day": str(d), "annotations": int(n)} for d, n in rows]


def _gold(session: Session, project: Project) -> tuple[dict[int, list[float]], int]:
    rows = session.execute(
        select(Annotation.user_id, Annotation.result, Task.gold)
        .join(Task, Task.id == Annotation.task_id)
        .where(Annotation.project_id == project.id, Task.gold.is_not(None), COUNTED)
    )
    scores: dict[int, list[float]] = defaultdict(list)
    for uid, result, gold in rows:
        score = scoring.gold_score(str(project.kind), result, gold, project.settings)
        if score is not None:
            scores[uid].append(score)
    n_gold = session.scalar(
        select(func.count()).select_from(Task).where(Task.project_id == project.id, Task.gold.is_not(None))
    )
    return scores, int(n_gold or 0)


def _sample(session: Session, project: Project) -> list[tuple[int, int, dict[str, Any], list[str]]]:
    """(task, annotator, result, response ids) of the most recent tasks with two or more answers."""
    units = (
        select(Task.id)
        .where(Task.project_id == project.id, Task.annotation_count >= 2)
        .order_by(Task.id.desc())
        .limit(SAMPLE_UNITS)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Annotation.task_id, Annotation.user_id, Annotation.result, Task.responses)
        .join(Task, Task.id == Annotation.task_id)
        .where(Annotation.task_id.in_(units), COUNTED)
    )
    return [(tid, uid, result, [str(r["id"]) for r in responses]) for tid, uid, result, responses in rows]


def _judge(session: Session, project: Project) -> tuple[dict[int, tuple[int, int]], int, int]:
    """Human choices against the LLM judge's, per annotator (pairwise)."""
    human = Annotation.result["choice"].as_string()
    judge = Suggestion.result["choice"].as_string()
    rows = session.execute(
        select(Annotation.user_id, func.sum(case((human == judge, 1), else_=0)), func.count())
        .join(Suggestion, (Suggestion.task_id == Annotation.task_id) & (Suggestion.kind == "judge"))
        .where(Annotation.project_id == project.id, COUNTED, Suggestion.error.is_(None))
        .group_by(Annotation.user_id)
    )
    per = {uid: (int(hit or 0), int(n)) for uid, hit, n in rows}
    return per, sum(h for h, _ in per.values()), sum(n for _, n in per.values())


def sample_answers(
    project: Project, sample: list[tuple[int, int, dict[str, Any], list[str]]]
) -> tuple[list[metrics.Answer], list[metrics.Answer]]:
    """The sample's answers as (annotator, unit, value), nominal and ordinal."""
    kind, labels = str(project.kind), list(project.settings.get("labels") or [])
    nominal: list[metrics.Answer] = []
    ordinal: list[metrics.Answer] = []
    for tid, uid, result, ids in sample:
        nominal += [(uid, unit, v) for unit, v in scoring.nominal_units(kind, tid, result, labels).items()]
        ordinal += [(uid, unit, v) for unit, v in scoring.ordinal_units(kind, tid, result, ids).items()]
    return nominal, ordinal


def trusted_agreement(session: Session, project: Project, leave_out: set[int]) -> dict[int, metrics.Figure]:
    """Agreement with the majority of the others, counting only annotators not left out (flagged ones would
    drag the careful annotators' figures down with them)."""
    nominal, _ = sample_answers(project, _sample(session, project))
    figures = metrics.majority_agreement([a for a in nominal if a[0] not in leave_out])
    return {int(str(coder)): figure for coder, figure in figures.items()}


def compute_stats(session: Session, project: Project) -> dict[str, Any]:
    started = time.perf_counter()
    kind, settings = str(project.kind), project.settings
    floor_ms = float(settings.get("min_seconds_per_task", 2.0)) * 1000
    tasks_total, tasks_done = session.execute(
        select(func.count(), func.sum(case((Task.status == "done", 1), else_=0)).cast(Integer)).where(
            Task.project_id == project.id, Task.gold.is_(None)
        )
    ).one()
    people = _per_annotator(session, project, floor_ms)
    members = {
        m.user_id: m
        for m in session.scalars(
            select(Member).where(Member.project_id == project.id, Member.user_id.in_(people))
        )
    }
    reveal = bool(settings.get("reveal_annotators"))
    emails = (
        dict(session.execute(select(User.id, User.email).where(User.id.in_(people))).all()) if reveal else {}
    )

    # agreement on a sample of units with two or more answers
    sample = _sample(session, project)
    nominal, ordinal = sample_answers(project, sample)
    majority = metrics.majority_agreement(nominal)
    pairwise_agreement = metrics.coder_percent_agreement(nominal)
    without = metrics.alpha_without(nominal) if len({a[0] for a in nominal}) <= 50 else {}
    gold_scores, n_gold = _gold(session, project)
    bias = _position_bias(session, project) if kind == "pairwise" else {}
    judge, judge_hits, judge_n = _judge(session, project) if kind == "pairwise" else ({}, 0, 0)

    min_gold = int(settings.get("gold_min_answers", 5))
    min_acc = float(settings.get("gold_min_accuracy", 0.6))
    # one test per annotator: Bonferroni keeps the chance of flagging anyone by luck under 5 %
    bias_alpha = 0.05 / max(1, sum(1 for _, n in bias.values() if n >= 20))
    annotators = []
    for uid, person in sorted(people.items(), key=lambda kv: -kv[1]["annotations"]):
        gold_list = gold_scores.get(uid, [])
        gold_fig = metrics.wilson(sum(gold_list), len(gold_list))
        first, n_pairs = bias.get(uid, (0, 0))
        person_bias = metrics.position_bias(first, n_pairs, alpha=bias_alpha) if kind == "pairwise" else None
        agree = majority.get(uid, metrics.Figure(None))
        hits, n_j = judge.get(uid, (0, 0))
        flags = []
        if person["fast_share"] > 0.5:
            flags.append("fast")
        if len(gold_list) >= min_gold and (gold_fig.high or 0) < min_acc:  # surely below, not by chance
            flags.append("low gold accuracy")
        if person_bias and person_bias["flagged"]:
            flags.append("position bias")
        if agree.high is not None and agree.n >= 10 and agree.high < LOW_AGREEMENT:
            flags.append("low agreement")
        member = members.get(uid)
        annotators.append(
            {
                **person,
                "name": emails.get(uid) if reveal else pseudonym(project.id, uid),
                "median_time": _median_bucket(person["time_buckets"]),
                "gold": gold_fig.as_dict(),
                "majority_agreement": agree.as_dict(),
                "percent_agreement": pairwise_agreement.get(uid, metrics.Figure(None)).as_dict(),
                "alpha_without": without.get(uid),
                "judge_agreement": metrics.wilson(hits, n_j).as_dict() if n_j else None,
                "position_bias": person_bias,
                "flags": flags,
                "paused": bool(member and member.paused_at),
                "paused_reason": member.paused_reason if member else None,
            }
        )
    all_first = sum(f for f, _ in bias.values())
    all_pairs = sum(n for _, n in bias.values())
    all_gold = [s for scores in gold_scores.values() for s in scores]
    total_time = [sum(p["time_buckets"][i] for p in people.values()) for i in range(len(TIME_BUCKETS))]
    ordinal_level = kind in ("pairwise", "ranking", "rating")
    answers = sum(p["annotations"] for p in people.values())
    return {
        "project_id": project.id,
        "kind": kind,
        "computed_at": utcnow().isoformat(),
        "progress": {
            "tasks": int(tasks_total or 0),
            "done": int(tasks_done or 0),
            "share_done": (int(tasks_done or 0) / tasks_total) if tasks_total else 0.0,
            "annotations": answers,
            "reviewed": sum(p["reviewed"] for p in people.values()),
            "annotators": len(people),
        },
        "throughput": _throughput(session, project),
        "agreement": {
            "sample_units": len({(t, "") for t, *_ in sample}),
            "alpha_nominal": metrics.krippendorff_alpha(nominal, "nominal").as_dict() if nominal else None,
            "alpha_ordinal": metrics.krippendorff_alpha(ordinal, "ordinal").as_dict()
            if ordinal and ordinal_level
            else None,
            "percent": metrics.percent_agreement(nominal).as_dict() if nominal else None,
            "judge": metrics.wilson(judge_hits, judge_n).as_dict() if judge_n else None,
        },
        "position_bias": metrics.position_bias(all_first, all_pairs) if kind == "pairwise" else None,
        "gold": {
            "tasks": n_gold,
            "answers": len(all_gold),
            "accuracy": metrics.wilson(sum(all_gold), len(all_gold)).as_dict(),
        },
        "time": {
            "buckets": [label for _, label in TIME_BUCKETS],
            "counts": total_time,
            "median": _median_bucket(total_time),
            "floor_seconds": floor_ms / 1000,
        },
        "annotators": annotators,
        "compute_ms": round((time.perf_counter() - started) * 1000),
    }


LARGE = 20_000  # annotations above which a stale figure is served at once and refreshed by a job


def max_age(annotations: int) -> timedelta:
    """How old cached figures may be: seconds on a small project, a minute on a large one."""
    return timedelta(seconds=2 if annotations < LARGE else 60)


def store_stats(session: Session, project: Project) -> dict[str, Any]:
    data = compute_stats(session, project)
    values = {
        "computed_at": utcnow(),
        "annotation_count": data["progress"]["annotations"],
        "compute_ms": data["compute_ms"],
        "data": data,
    }
    try:
        with session.begin_nested():  # two requests refreshing at once: the second one's insert loses
            cached = session.get(ProjectStats, project.id)
            if cached is None:
                session.add(ProjectStats(project_id=project.id, **values))
            else:
                for key, value in values.items():
                    setattr(cached, key, value)
    except IntegrityError:
        pass
    return data


def stats_for(session: Session, project: Project, *, refresh: bool = False) -> dict[str, Any]:
    """The cached figures when fresh enough; else recomputed now (small projects, or refresh=True), or
    served as they are while a job recomputes them (large projects)."""
    cached = session.get(ProjectStats, project.id)
    if cached is not None and not refresh:
        age = utcnow() - cached.computed_at
        if age < max_age(cached.annotation_count):
            return {**cached.data, "cached": True, "stale": False}
        if cached.annotation_count >= LARGE:
            request_refresh(session, project)
            return {**cached.data, "cached": True, "stale": True}
    return {**store_stats(session, project), "cached": False, "stale": False}


def request_refresh(session: Session, project: Project) -> None:
    """One refresh job at a time per project."""
    busy = session.scalar(
        select(Job.id).where(
            Job.project_id == project.id, Job.of_kind("stats"), Job.status.in_(("queued", "running"))
        )
    )
    if busy is None:
        create_job(
            session, kind="stats", task_name=STATS_TASK, params={}, project_id=project.id, user_id=None
        )


STATS_TASK = "quality.stats"
