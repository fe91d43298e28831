"""A leaderboard of the models behind a project's responses: a Bradley-Terry model with ties (Davidson,
1970) fitted to the human votes (and, separately, to the LLM judge's), with bootstrap 95 % intervals and
the observed win-rate matrix.

    P(i beats j) = p_i / (p_i + p_j + nu * sqrt(p_i p_j)),   P(tie) = nu * sqrt(p_i p_j) / (same)

Strengths are reported on the familiar Elo-like scale: 400 * log10(p_i) + 1000, centred on the mean model."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.kinds import kind_of
from app.loop.schemas import Board, Leaderboard
from app.models import Annotation, Project, Suggestion, Task

BOOTSTRAP = 200
SCALE = 400 / math.log(10)


@dataclass(frozen=True)
class Game:
    a: str  # model names
    b: str
    outcome: int  # +1 a won, -1 b won, 0 tie


def _fit(
    idx_a: np.ndarray, idx_b: np.ndarray, outcome: np.ndarray, weight: np.ndarray, n_models: int
) -> tuple[np.ndarray, float]:
    """Maximum-likelihood log-strengths (mean zero) and the tie parameter nu, from distinct
    (a, b, outcome) comparisons and how often each happened."""
    ties = outcome == 0
    win_a = outcome > 0

    def nll(params: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log-likelihood and its gradient (analytic: the fit runs hundreds of times)."""
        theta, log_nu = params[:-1], params[-1]
        ta, tb = theta[idx_a], theta[idx_b]
        # log of the common denominator: log(e^ta + e^tb + nu e^((ta+tb)/2)), stably
        tie_term = log_nu + (ta + tb) / 2
        log_den = np.logaddexp(np.logaddexp(ta, tb), tie_term)
        log_num = np.where(ties, tie_term, np.where(win_a, ta, tb))
        pa, pb, pt = np.exp(ta - log_den), np.exp(tb - log_den), np.exp(tie_term - log_den)
        num_a = np.where(ties, 0.5, np.where(win_a, 1.0, 0.0))
        num_b = np.where(ties, 0.5, np.where(win_a, 0.0, 1.0))
        grad = np.zeros_like(params)
        np.add.at(grad, idx_a, -weight * (num_a - pa - pt / 2))
        np.add.at(grad, idx_b, -weight * (num_b - pb - pt / 2))
        grad[-1] = -float((weight * (ties - pt)).sum())
        # a weak prior keeps unbeaten (or never-winning) models finite
        grad[:-1] += 0.02 * theta
        value = float(-(weight * (log_num - log_den)).sum() + 0.01 * (theta**2).sum())
        return value, grad

    has_ties = bool((weight[ties] > 0).any())
    start = np.zeros(n_models + 1)
    # without ties nu is 0: pin its log far down instead of letting the optimizer chase -infinity
    start[-1] = math.log(0.5) if has_ties else -30.0
    bounds = [(None, None)] * n_models + [(-20.0, 5.0) if has_ties else (-30.0, -30.0)]
    result = minimize(nll, start, method="L-BFGS-B", jac=True, bounds=bounds)
    theta = result.x[:-1] - result.x[:-1].mean()
    return theta, float(math.exp(result.x[-1])) if has_ties else 0.0


def fit(games: Sequence[Game], *, bootstrap: int = BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    models = sorted({g.a for g in games} | {g.b for g in games})
    if len(models) < 2:
        return {"models": [], "matrix": {}, "games": len(games), "tie_parameter": None}
    index = {m: i for i, m in enumerate(models)}
    tally = Counter((index[g.a], index[g.b], g.outcome) for g in games)
    keys = list(tally)
    a = np.array([k[0] for k in keys])
    b = np.array([k[1] for k in keys])
    o = np.array([k[2] for k in keys])
    counts = np.array([tally[k] for k in keys], dtype=float)
    theta, nu = _fit(a, b, o, counts, len(models))
    rng = np.random.default_rng(seed)
    # the bootstrap resamples comparisons: a multinomial draw over the distinct ones
    draws = [
        _fit(a, b, o, rng.multinomial(len(games), counts / counts.sum()).astype(float), len(models))[0]
        for _ in range(bootstrap)
    ]
    spread = np.array(draws) if draws else None
    record: dict[str, Counter[str]] = {m: Counter() for m in models}
    pairs: dict[tuple[str, str], list[float]] = {}
    for g in games:
        for me, them, score in ((g.a, g.b, g.outcome), (g.b, g.a, -g.outcome)):
            record[me]["wins" if score > 0 else "losses" if score < 0 else "ties"] += 1
            pairs.setdefault((me, them), []).append(1.0 if score > 0 else 0.5 if score == 0 else 0.0)
    rows = []
    for i, model in enumerate(models):
        low = high = None
        if spread is not None:
            low = 1000 + SCALE * float(np.percentile(spread[:, i], 2.5))
            high = 1000 + SCALE * float(np.percentile(spread[:, i], 97.5))
        rows.append(
            {
                "model": model,
                "score": 1000 + SCALE * float(theta[i]),
                "low": low,
                "high": high,
                "games": sum(record[model].values()),
                **{k: record[model][k] for k in ("wins", "losses", "ties")},
            }
        )
    rows.sort(key=lambda r: -float(r["score"] or 0))
    matrix = {m: {o_: (sum(v) / len(v)) for (me, o_), v in pairs.items() if me == m} for m in models}
    return {"models": rows, "matrix": matrix, "games": len(games), "tie_parameter": nu}


def games_of(responses: list[dict[str, Any]], votes: Mapping[tuple[str, str], int]) -> Iterable[Game]:
    """Pair votes (response ids) as games between the models that wrote the responses."""
    model_of = {str(r["id"]): r.get("model") for r in responses}
    for (x, y), outcome in votes.items():
        mx, my = model_of.get(x), model_of.get(y)
        if mx and my and mx != my:
            yield Game(mx, my, outcome)


def _ids(responses: list[dict[str, Any]]) -> list[str]:
    return [str(r["id"]) for r in responses]


def project_leaderboard(session: Session, project: Project) -> Leaderboard:
    """From the human votes and, separately, from the LLM judge's."""
    kind = kind_of(project)
    if not kind.compares_responses:
        return _board([], [])
    human: list[Game] = []
    rows = session.execute(
        select(Annotation.result, Task.responses)
        .join(Task, Task.id == Annotation.task_id)
        .where(Annotation.project_id == project.id, Annotation.status != "rejected")
    )
    for result, responses in rows:
        human.extend(games_of(responses, kind.pair_votes(_ids(responses), result)))
    judge: list[Game] = []
    if kind.has_judge_board:
        judged = session.execute(
            select(Suggestion.result, Task.responses)
            .join(Task, Task.id == Suggestion.task_id)
            .where(Task.project_id == project.id, Suggestion.of_kind("judge"), Suggestion.error.is_(None))
        )
        for result, responses in judged:
            judge.extend(games_of(responses, kind.judge_votes(_ids(responses), result)))
    return _board(human, judge)


def _board(human: Sequence[Game], judge: Sequence[Game]) -> Leaderboard:
    return Leaderboard(human=Board.model_validate(fit(human)), judge=Board.model_validate(fit(judge)))
