"""One function per figure of the dashboard (app/quality/stats.py composes them): progress, throughput,
agreement, position bias, judge, gold accuracy, time per task, rewrites, and the rows per annotator with
their flags.

Counts, times, position bias and throughput are SQL aggregations over every annotation. Agreement needs the
answers side by side: it is computed with numpy on the most recent SAMPLE_UNITS tasks that have two or more
answers (every such task in a smaller project), and says how many units it rests on. Gold scoring reads the
gold tasks' answers only. Rewrites are counted in SQL; how much they change is measured (Levenshtein) on
the most recent REWRITE_SAMPLE of them."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, distinct, func, select
from sqlalchemy.orm import Session

from app.kinds import kind_of
from app.kinds.edits import levenshtein
from app.kinds.rewrites import rewrite_of
from app.models import Annotation, Assignment, Member, Project, Suggestion, Task, utcnow
from app.quality import metrics
from app.quality.reviews import annotator_names

SAMPLE_UNITS = 20_000
LOW_AGREEMENT = 0.6  # an annotator whose agreement with the others' majority is surely below this is flagged
MAX_ALPHA_WITHOUT = 50  # annotators beyond which "alpha without each one" costs too much to compute
TIME_BUCKETS = [(2, "< 2 s"), (5, "2-5 s"), (10, "5-10 s"), (30, "10-30 s"), (60, "30-60 s"),
                (120, "1-2 min"), (300, "2-5 min"), (None, "> 5 min")]  # fmt: skip
COUNTED = Annotation.status != "rejected"
REWRITE_SAMPLE = 500  # rewrites whose distance from their original is measured (the most recent)

Sample = list[tuple[int, int, dict[str, Any], list[str]]]  # (task, annotator, result, response ids)
Counts = dict[int, tuple[int, int]]  # per annotator: (hits, out of)


# --- per annotator, from SQL --------------------------------------------------------------------------


def _bucket_expr() -> Any:
    seconds = Annotation.lead_time_ms / 1000.0
    whens = [(seconds < limit, i) for i, (limit, _) in enumerate(TIME_BUCKETS) if limit is not None]
    return case((Annotation.lead_time_ms.is_(None), -1), *whens, else_=len(TIME_BUCKETS) - 1)


def median_bucket(counts: list[int]) -> str | None:
    total = sum(counts)
    if not total:
        return None
    running = 0
    for (_, label), n in zip(TIME_BUCKETS, counts, strict=True):
        running += n
        if running * 2 >= total:
            return label
    return None


def per_annotator(session: Session, project: Project, floor_ms: float) -> dict[int, dict[str, Any]]:
    """Counts and times per annotator: the start of each dashboard row."""
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


def position_counts(session: Session, project: Project) -> Counts:
    """Per annotator: (choices of the response shown first, choices of a side); {} for kinds without."""
    kind = kind_of(project)
    if not kind.has_position_bias:
        return {}
    first, sided = kind.position_choice(Annotation.result, Assignment.order)
    stmt = (
        select(
            Annotation.user_id,
            func.sum(case((first, 1), else_=0)),
            func.sum(case((sided, 1), else_=0)),
        )
        .join(Assignment, Assignment.id == Annotation.assignment_id)
        .where(Annotation.project_id == project.id, COUNTED)
        .group_by(Annotation.user_id)
    )
    return {uid: (int(hit or 0), int(n or 0)) for uid, hit, n in session.execute(stmt)}


def judge_counts(session: Session, project: Project) -> Counts:
    """Per annotator: (answers that say what the LLM judge says, answers to judged tasks)."""
    kind = kind_of(project)
    if not kind.has_judge:
        return {}
    rows = session.execute(
        select(
            Annotation.user_id,
            func.sum(case((kind.agrees_with_judge(Annotation.result, Suggestion.result), 1), else_=0)),
            func.count(),
        )
        .join(Suggestion, (Suggestion.task_id == Annotation.task_id) & Suggestion.of_kind("judge"))
        .where(Annotation.project_id == project.id, COUNTED, Suggestion.error.is_(None))
        .group_by(Annotation.user_id)
    )
    return {uid: (int(hit or 0), int(n)) for uid, hit, n in rows}


def _rewritten() -> ColumnElement[bool]:
    """SQL: the answer carries a rewrite (its result has "edits")."""
    return Annotation.result["edits"].as_string().is_not(None)


def rewrite_counts(session: Session, project: Project) -> dict[int, int]:
    """Per annotator: answers with a rewrite; {} for kinds without rewrites."""
    if not kind_of(project).takes_rewrites:
        return {}
    rows = session.execute(
        select(Annotation.user_id, func.count())
        .where(Annotation.project_id == project.id, COUNTED, _rewritten())
        .group_by(Annotation.user_id)
    )
    return {uid: int(n) for uid, n in rows}


def gold_scores(session: Session, project: Project) -> dict[int, list[float]]:
    """Per annotator: the score of each of their answers to a gold task."""
    kind = kind_of(project)
    rows = session.execute(
        select(Annotation.user_id, Annotation.result, Task.gold)
        .join(Task, Task.id == Annotation.task_id)
        .where(Annotation.project_id == project.id, Task.gold.is_not(None), COUNTED)
    )
    scores: dict[int, list[float]] = defaultdict(list)
    for uid, result, gold in rows:
        score = kind.gold_score(result, gold, project.settings)
        if score is not None:
            scores[uid].append(score)
    return scores


def agreement_sample(session: Session, project: Project) -> Sample:
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


def sample_answers(project: Project, sample: Sample) -> tuple[list[metrics.Answer], list[metrics.Answer]]:
    """The sample's answers as (annotator, unit, value), nominal and ordinal."""
    kind, settings = kind_of(project), project.settings
    nominal: list[metrics.Answer] = []
    ordinal: list[metrics.Answer] = []
    for tid, uid, result, ids in sample:
        nominal += [(uid, unit, v) for unit, v in kind.nominal_units(tid, result, settings).items()]
        ordinal += [(uid, unit, v) for unit, v in kind.ordinal_units(tid, result, ids).items()]
    return nominal, ordinal


# --- the project's figures ----------------------------------------------------------------------------


def progress(session: Session, project: Project, people: dict[int, dict[str, Any]]) -> dict[str, Any]:
    tasks_total, tasks_done = session.execute(
        select(func.count(), func.sum(case((Task.status == "done", 1), else_=0)).cast(Integer)).where(
            Task.project_id == project.id, Task.gold.is_(None)
        )
    ).one()
    return {
        "tasks": int(tasks_total or 0),
        "done": int(tasks_done or 0),
        "share_done": (int(tasks_done or 0) / tasks_total) if tasks_total else 0.0,
        "annotations": sum(p["annotations"] for p in people.values()),
        "reviewed": sum(p["reviewed"] for p in people.values()),
        "annotators": len(people),
    }


def throughput(session: Session, project: Project, days: int = 60) -> list[dict[str, Any]]:
    since = utcnow() - timedelta(days=days)
    day = func.date(Annotation.created_at)
    rows = session.execute(
        select(day, func.count())
        .where(Annotation.project_id == project.id, Annotation.created_at >= since)
        .group_by(day)
        .order_by(day)
    )
    return [{"day": str(d), "annotations": int(n)} for d, n in rows]


def _total(counts: Counts) -> tuple[int, int]:
    return sum(h for h, _ in counts.values()), sum(n for _, n in counts.values())


def agreement(
    sample: Sample, nominal: list[metrics.Answer], ordinal: list[metrics.Answer], judge: Counts
) -> dict[str, Any]:
    judge_hits, judge_n = _total(judge)
    return {
        "sample_units": len({tid for tid, *_ in sample}),
        "alpha_nominal": metrics.krippendorff_alpha(nominal, "nominal").as_dict() if nominal else None,
        "alpha_ordinal": metrics.krippendorff_alpha(ordinal, "ordinal").as_dict() if ordinal else None,
        "percent": metrics.percent_agreement(nominal).as_dict() if nominal else None,
        "judge": metrics.wilson(judge_hits, judge_n).as_dict() if judge_n else None,
    }


def position_bias(project: Project, counts: Counts) -> dict[str, Any] | None:
    if not kind_of(project).has_position_bias:
        return None
    return metrics.position_bias(*_total(counts))


def gold(session: Session, project: Project, scores: dict[int, list[float]]) -> dict[str, Any]:
    n_gold = session.scalar(
        select(func.count()).select_from(Task).where(Task.project_id == project.id, Task.gold.is_not(None))
    )
    every = [s for per in scores.values() for s in per]
    return {
        "tasks": int(n_gold or 0),
        "answers": len(every),
        "accuracy": metrics.wilson(sum(every), len(every)).as_dict(),
    }


def rewrites(session: Session, project: Project, counts: dict[int, int]) -> dict[str, Any] | None:
    """How often annotators rewrite the response they prefer, and how much: the share of answered tasks
    with a rewrite, and the edit distance (characters, and as a share of the original's length)."""
    if not kind_of(project).takes_rewrites:
        return None
    answered = select(func.count(distinct(Annotation.task_id))).where(
        Annotation.project_id == project.id, COUNTED
    )
    tasks = int(session.scalar(answered) or 0)
    rewritten = int(session.scalar(answered.where(_rewritten())) or 0)
    recent = session.execute(
        select(Annotation.result, Task.responses)
        .join(Task, Task.id == Annotation.task_id)
        .where(Annotation.project_id == project.id, COUNTED, _rewritten())
        .order_by(Annotation.id.desc())
        .limit(REWRITE_SAMPLE)
    )
    distances, shares = [], []
    for result, responses in recent:
        found = rewrite_of(result)
        if found is None:
            continue
        rid, text = found
        original = next((str(r.get("text", "")) for r in responses if str(r.get("id")) == rid), "")
        distance = levenshtein(original, text)
        distances.append(distance)
        shares.append(distance / max(len(original), 1))
    return {
        "answers": sum(counts.values()),
        "tasks": rewritten,
        "tasks_answered": tasks,
        "share_of_tasks": rewritten / tasks if tasks else 0.0,
        "measured": len(distances),
        "median_distance": statistics.median(distances) if distances else None,
        "mean_distance": round(statistics.fmean(distances), 1) if distances else None,
        "median_share_changed": statistics.median(shares) if shares else None,
    }


def time_spent(people: dict[int, dict[str, Any]], floor_ms: float) -> dict[str, Any]:
    counts = [sum(p["time_buckets"][i] for p in people.values()) for i in range(len(TIME_BUCKETS))]
    return {
        "buckets": [label for _, label in TIME_BUCKETS],
        "counts": counts,
        "median": median_bucket(counts),
        "floor_seconds": floor_ms / 1000,
    }


# --- the rows per annotator ---------------------------------------------------------------------------


@dataclass
class Evidence:
    """What the rows per annotator are read from, gathered once for the project."""

    nominal: list[metrics.Answer]
    gold: dict[int, list[float]]
    position: Counts
    judge: Counts
    rewrites: dict[int, int] = field(default_factory=dict)
    majority: dict[Any, metrics.Figure] = field(init=False)
    percent: dict[Any, metrics.Figure] = field(init=False)
    without: dict[Any, float | None] = field(init=False)

    def __post_init__(self) -> None:
        self.majority = metrics.majority_agreement(self.nominal)
        self.percent = metrics.coder_percent_agreement(self.nominal)
        coders = len({a[0] for a in self.nominal})
        self.without = metrics.alpha_without(self.nominal) if coders <= MAX_ALPHA_WITHOUT else {}


def _flags(
    settings: dict[str, Any],
    person: dict[str, Any],
    accuracy: metrics.Figure,
    bias: dict[str, Any] | None,
    agree: metrics.Figure,
) -> list[str]:
    """What a lead should look at: figures surely past their limits, not by chance."""
    flags = []
    if person["fast_share"] > 0.5:
        flags.append("fast")
    enough_gold = accuracy.n >= int(settings.get("gold_min_answers", 5))
    if enough_gold and (accuracy.high or 0) < float(settings.get("gold_min_accuracy", 0.6)):
        flags.append("low gold accuracy")
    if bias and bias["flagged"]:
        flags.append("position bias")
    if agree.high is not None and agree.n >= 10 and agree.high < LOW_AGREEMENT:
        flags.append("low agreement")
    return flags


def annotator_rows(
    session: Session, project: Project, people: dict[int, dict[str, Any]], evidence: Evidence
) -> list[dict[str, Any]]:
    """One row per annotator, most answers first."""
    has_bias = kind_of(project).has_position_bias
    members = {
        m.user_id: m
        for m in session.scalars(
            select(Member).where(Member.project_id == project.id, Member.user_id.in_(people))
        )
    }
    names = annotator_names(session, project, list(people))
    # one test per annotator: Bonferroni keeps the chance of flagging anyone by luck under 5 %
    tested = sum(1 for _, n in evidence.position.values() if n >= metrics.POSITION_BIAS_MIN_N)
    bias_alpha = 0.05 / max(1, tested)
    rows = []
    for uid, person in sorted(people.items(), key=lambda kv: -kv[1]["annotations"]):
        answers = evidence.gold.get(uid, [])
        accuracy = metrics.wilson(sum(answers), len(answers))
        first, sided = evidence.position.get(uid, (0, 0))
        bias = metrics.position_bias(first, sided, alpha=bias_alpha) if has_bias else None
        agree = evidence.majority.get(uid, metrics.Figure(None))
        hits, judged = evidence.judge.get(uid, (0, 0))
        member = members.get(uid)
        rows.append(
            {
                **person,
                "name": names.get(uid),
                "median_time": median_bucket(person["time_buckets"]),
                "gold": accuracy.as_dict(),
                "majority_agreement": agree.as_dict(),
                "percent_agreement": evidence.percent.get(uid, metrics.Figure(None)).as_dict(),
                "alpha_without": evidence.without.get(uid),
                "judge_agreement": metrics.wilson(hits, judged).as_dict() if judged else None,
                "rewrites": evidence.rewrites.get(uid, 0),
                "position_bias": bias,
                "flags": _flags(project.settings, person, accuracy, bias, agree),
                "paused": bool(member and member.paused_at),
                "paused_reason": member.paused_reason if member else None,
            }
        )
    return rows
