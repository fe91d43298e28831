"""Agreement and bias statistics, vectorized with numpy; each figure carries the number of items it rests
on and a 95 % interval (bootstrap over units, or Wilson for a proportion)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import krippendorff
import numpy as np
from scipy.stats import binomtest

BOOTSTRAP = 100
Z95 = 1.959964


@dataclass
class Figure:
    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0  # units (or answers, for a proportion) the figure rests on

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Answer = tuple[Hashable, Hashable, Any]  # (coder, unit, value)
Level = Literal["nominal", "ordinal", "interval", "ratio"]


def wilson(successes: float, n: int) -> Figure:
    """A proportion with its Wilson score interval (good at small n and near 0 or 1)."""
    if n == 0:
        return Figure(None, n=0)
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return Figure(p, max(0.0, centre - half), min(1.0, centre + half), n)


def _value_counts(answers: Sequence[Answer], level: Level) -> tuple[np.ndarray, list[Any]]:
    """Units x values: how many answers gave each value to each unit (units with two or more answers).
    Cheaper than a coders x units matrix, and a bootstrap resamples its rows."""
    domain = sorted({a[2] for a in answers}, key=(str if level == "nominal" else float))
    column = {v: i for i, v in enumerate(domain)}
    units: dict[Hashable, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for _, unit, value in answers:
        rows.append(units.setdefault(unit, len(units)))
        cols.append(column[value])
    counts = np.zeros((len(units), len(domain)))
    np.add.at(counts, (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)), 1)
    return counts[counts.sum(axis=1) >= 2], domain


def _alpha(counts: np.ndarray, domain: list[Any], level: Level) -> float | None:
    if counts.shape[0] == 0:
        return None
    if np.count_nonzero(counts.sum(axis=0)) < 2:
        return 1.0  # every answer the same: perfect agreement (alpha itself is undefined there)
    values = list(range(len(domain))) if level == "nominal" else [float(v) for v in domain]
    return float(krippendorff.alpha(value_counts=counts, value_domain=values, level_of_measurement=level))


def krippendorff_alpha(
    answers: Sequence[Answer], level: Level = "nominal", *, bootstrap: int = BOOTSTRAP, seed: int = 0
) -> Figure:
    """Krippendorff's alpha over units with two or more answers, with a bootstrap interval over units."""
    counts, domain = _value_counts(answers, level)
    n_units = counts.shape[0]
    value = _alpha(counts, domain, level)
    if value is None or n_units < 2 or bootstrap <= 0:
        return Figure(value, n=n_units)
    rng = np.random.default_rng(seed)
    draws = [_alpha(counts[rng.integers(0, n_units, n_units)], domain, level) for _ in range(bootstrap)]
    kept = np.array([d for d in draws if d is not None and not math.isnan(d)])
    if kept.size == 0:
        return Figure(value, n=n_units)
    return Figure(value, float(np.percentile(kept, 2.5)), float(np.percentile(kept, 97.5)), n_units)


def _shared_units(answers: Sequence[Answer]) -> list[list[tuple[Hashable, Any]]]:
    """Each unit's (coder, value) answers, for the units with two or more."""
    by_unit: dict[Hashable, list[tuple[Hashable, Any]]] = defaultdict(list)
    for coder, unit, value in answers:
        by_unit[unit].append((coder, value))
    return [given for given in by_unit.values() if len(given) >= 2]


def percent_agreement(answers: Sequence[Answer], *, bootstrap: int = BOOTSTRAP, seed: int = 0) -> Figure:
    """Share of agreeing pairs of answers on the same unit, over units with two or more answers."""
    agree, pairs = [], []
    for given in _shared_units(answers):
        n = len(given)
        counts = Counter(v for _, v in given)
        agree.append(sum(c * (c - 1) / 2 for c in counts.values()))
        pairs.append(n * (n - 1) / 2)
    if not pairs:
        return Figure(None)
    a, p = np.array(agree), np.array(pairs)
    value = float(a.sum() / p.sum())
    if bootstrap <= 0 or len(p) < 2:
        return Figure(value, n=len(p))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(p), (bootstrap, len(p)))
    draws = a[idx].sum(axis=1) / p[idx].sum(axis=1)
    return Figure(value, float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5)), len(p))


def coder_percent_agreement(answers: Sequence[Answer]) -> dict[Hashable, Figure]:
    """Per coder: the share of their pairings with other coders' answers to the same unit that agree."""
    agree: Counter[Hashable] = Counter()
    pairs: Counter[Hashable] = Counter()
    for given in _shared_units(answers):
        counts = Counter(v for _, v in given)
        for coder, value in given:
            pairs[coder] += len(given) - 1
            agree[coder] += counts[value] - 1
    return {coder: wilson(agree[coder], pairs[coder]) for coder in pairs}


def alpha_without(answers: Sequence[Answer], level: Level = "nominal") -> dict[Hashable, float | None]:
    """Per coder: the project's alpha with that coder's answers left out (a jump means they disagree)."""
    coders = {a[0] for a in answers}
    return {
        c: krippendorff_alpha([a for a in answers if a[0] != c], level, bootstrap=0).value for c in coders
    }


def majority_agreement(answers: Sequence[Answer]) -> dict[Hashable, Figure]:
    """Per coder: how often their answer matches the majority of the *other* answers to the same unit
    (units where the others have a clear majority); a Wilson interval each."""
    hits: Counter[Hashable] = Counter()
    seen: Counter[Hashable] = Counter()
    for given in _shared_units(answers):
        total = Counter(v for _, v in given)
        for coder, value in given:
            others = total.copy()
            others[value] -= 1
            ranked = [kv for kv in others.most_common() if kv[1] > 0]
            if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
                continue  # the others are split: no majority to agree with
            seen[coder] += 1
            hits[coder] += ranked[0][0] == value
    return {coder: wilson(hits[coder], seen[coder]) for coder in seen}


# Fewer choices of a side than this cannot tell a bias from chance: below it nobody is flagged (the dashboard
# says so next to the figure).
POSITION_BIAS_MIN_N = 20


def position_bias(
    first: int, n: int, *, alpha: float = 0.01, min_n: int = POSITION_BIAS_MIN_N
) -> dict[str, Any]:
    """Share of choices for the response shown first, with a two-sided binomial test against 1/2."""
    share = wilson(first, n)
    p_value = float(binomtest(first, n, 0.5).pvalue) if n else None
    return {
        "share_first": share.as_dict(),
        "p_value": p_value,
        "flagged": bool(n >= min_n and p_value is not None and p_value < alpha),
    }
