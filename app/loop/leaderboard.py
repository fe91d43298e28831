"""A leaderboard of the models behind a project's responses: a Bradley-Terry model with ties (Davidson,
1970) fitted to the human votes (and, separately, to the LLM judge's), with bootstrap 95 % intervals and
the observed win-rate matrix.

    P(i beats j) = p_i / (p_i + p_j + nu * sqrt(p_i p_j)),   P(tie) = nu * sqrt(p_i p_j) / (same)

Strengths are reported on the familiar Elo-like scale: 400 * log10(p_i) + 1000, centred on the mean model."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.kinds import kind_of
from app.kinds.games import Game, games_of
from app.loop.schemas import Board, Leaderboard
from app.models import Project, ProjectGame
from app.quality import task_figures

__all__ = ["SCALE", "Game", "fit", "fit_tally", "games_of", "project_leaderboard"]

BOOTSTRAP = 200
SCALE = 400 / math.log(10)


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


Tally = Mapping[tuple[str, str, int], int]  # (model a, model b, outcome) -> how many such games


def fit(games: Sequence[Game], *, bootstrap: int = BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    return fit_tally(Counter((g.a, g.b, g.outcome) for g in games), bootstrap=bootstrap, seed=seed)


def fit_tally(
    tally: Tally, *, bootstrap: int = BOOTSTRAP, seed: int = 0, reuse: Hashable | None = None
) -> dict[str, Any]:
    """The board from how often each (a, b, outcome) happened: a fit over counts, never over each vote.
    `reuse` names the board, for reusing its recent bootstrap while votes arrive (see _spread)."""
    tally = {k: n for k, n in tally.items() if n > 0}
    total = int(sum(tally.values()))
    models = sorted({k[0] for k in tally} | {k[1] for k in tally})
    if len(models) < 2:
        return {"models": [], "matrix": {}, "games": total, "tie_parameter": None, "interval_games": None}
    index = {m: i for i, m in enumerate(models)}
    keys = sorted(tally)
    a = np.array([index[k[0]] for k in keys])
    b = np.array([index[k[1]] for k in keys])
    o = np.array([k[2] for k in keys])
    counts = np.array([tally[k] for k in keys], dtype=float)
    theta, nu = _fit(a, b, o, counts, len(models))
    spread, interval_games = _spread(a, b, o, counts, tuple(models), theta, bootstrap, seed, reuse)
    record: dict[str, Counter[str]] = {m: Counter() for m in models}
    points: dict[tuple[str, str], list[float]] = {}  # (me, them) -> [score sum, games]
    for (ma, mb, outcome), n in tally.items():
        for me, them, score in ((ma, mb, outcome), (mb, ma, -outcome)):
            record[me]["wins" if score > 0 else "losses" if score < 0 else "ties"] += n
            got = points.setdefault((me, them), [0.0, 0.0])
            got[0] += n * (1.0 if score > 0 else 0.5 if score == 0 else 0.0)
            got[1] += n
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
    matrix = {m: {them: v[0] / v[1] for (me, them), v in points.items() if me == m} for m in models}
    return {
        "models": rows,
        "matrix": matrix,
        "games": total,
        "tie_parameter": nu,
        "interval_games": interval_games if spread is not None else None,
    }


# The bootstrap is the board's cost (hundreds of fits). Its spread is kept per distinct tally, so a board read
# again without new votes costs one fit; and per board (`reuse`) while votes arrive: a spread at most
# REUSE_S old, drawn from within REUSE_SHARE of today's games on the same models, is reused around today's
# strengths, and the board says from how many games it was drawn.
_SPREADS: dict[tuple[Any, ...], np.ndarray | None] = {}
_RECENT: dict[Hashable, tuple[float, int, tuple[str, ...], np.ndarray, np.ndarray | None]] = {}
_KEPT = 64
REUSE_S = 60.0
REUSE_SHARE = 0.05


def _keep(store: dict[Any, Any], key: Any, value: Any) -> None:
    if len(store) >= _KEPT and key not in store:
        store.pop(next(iter(store)))
    store[key] = value


def _spread(
    a: np.ndarray,
    b: np.ndarray,
    o: np.ndarray,
    counts: np.ndarray,
    models: tuple[str, ...],
    theta: np.ndarray,
    bootstrap: int,
    seed: int,
    reuse: Hashable | None,
) -> tuple[np.ndarray | None, int]:
    """The bootstrap's log-strengths (one row per draw) and the number of games they were drawn from."""
    total = int(counts.sum())
    key = (models, bootstrap, seed, a.tobytes(), b.tobytes(), o.tobytes(), counts.tobytes())
    if key in _SPREADS:
        return _SPREADS[key], total
    recent = _RECENT.get(reuse) if reuse is not None else None
    if recent is not None:
        at, games, names, centre, spread = recent
        if (
            names == models
            and spread is not None
            and time.monotonic() - at < REUSE_S
            and abs(total - games) <= REUSE_SHARE * games
        ):
            return spread - centre + theta, games
    rng = np.random.default_rng(seed)
    # the bootstrap resamples comparisons: a multinomial draw over the distinct ones
    draws = [
        _fit(a, b, o, rng.multinomial(total, counts / counts.sum()).astype(float), len(models))[0]
        for _ in range(bootstrap)
    ]
    spread = np.array(draws) if draws else None
    _keep(_SPREADS, key, spread)
    if reuse is not None:
        _keep(_RECENT, reuse, (time.monotonic(), total, models, theta, spread))
    return spread, total


def project_leaderboard(session: Session, project: Project) -> Leaderboard:
    """From the human votes and, separately, from the LLM judge's: the games kept per project
    (app/quality/task_figures.py), brought up to date first."""
    if not kind_of(project).compares_responses:
        return _board({}, {})
    task_figures.up_to_date(session, project)
    tallies: dict[str, Counter[tuple[str, str, int]]] = {"human": Counter(), "judge": Counter()}
    rows = session.execute(
        select(ProjectGame.board, ProjectGame.a, ProjectGame.b, ProjectGame.outcome, ProjectGame.n).where(
            ProjectGame.project_id == project.id, ProjectGame.n > 0
        )
    )
    for board, a, b, outcome, n in rows:
        tallies.setdefault(board, Counter())[(a, b, int(outcome))] += int(n)
    return _board(tallies["human"], tallies["judge"], project.id)


def _board(human: Tally, judge: Tally, project_id: int | None = None) -> Leaderboard:
    return Leaderboard(
        human=Board.model_validate(fit_tally(human, reuse=(project_id, "human") if project_id else None)),
        judge=Board.model_validate(fit_tally(judge, reuse=(project_id, "judge") if project_id else None)),
    )
