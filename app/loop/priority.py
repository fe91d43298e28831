"""Which open task the queue serves first, from a reward model's scores (DESIGN §4.8). Pure functions: the
scoring job and the reorder job feed them rows and write the priorities they return.

Rules (a project setting, `queue_order`):
- `priority`: the priorities the tasks were imported with; the loop leaves them alone.
- `margin`: the smallest reward margin first: the tasks the reward model is least sure about. For two
  responses the margin is |r_a - r_b|; for more, the smallest gap between neighbours in score order (the
  pair a ranking is least sure of).
- `disagreement`: tasks where the reward model's favourite is not the LLM judge's choice come first, the
  widest disagreement first; then the rest by smallest margin.
- `random`: a seeded shuffle, the control an active-learning comparison needs.

Scored tasks get priorities N … 1 (N = how many were scored), so they come before tasks that were not
scored (imported priority, 0 by default); a task without enough responses is never scored."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

Rule = Literal["priority", "margin", "disagreement", "random"]
RULES: tuple[str, ...] = ("priority", "margin", "disagreement", "random")
RULE_HELP = {
    "priority": "the priority each task was imported with (reward scores are kept but not used)",
    "margin": "smallest reward margin first: the tasks the reward model is least sure about",
    "disagreement": "tasks where the reward model and the LLM judge disagree first, then smallest margin",
    "random": "a seeded random order: the control for an active-learning comparison",
}


@dataclass(frozen=True, slots=True)
class Scored:
    task_id: int
    scores: Mapping[str, float]  # response id → reward
    judge: str | None = None  # the LLM judge's choice: a response id, "tie", or None when not judged


def margin(scores: Mapping[str, float] | Sequence[float]) -> float:
    values = sorted(scores.values() if isinstance(scores, Mapping) else scores)
    if len(values) < 2:
        raise ValueError("a margin needs at least two scores")
    return min(b - a for a, b in pairwise(values))


def favourite(scores: Mapping[str, float]) -> str:
    """The reward model's preferred response (the first id in sorted order on an exact tie)."""
    return max(sorted(scores), key=lambda rid: scores[rid])


def disagreement(item: Scored) -> float:
    """How far the reward model prefers its favourite over the judge's choice; 0 when they agree, when
    the judge called a tie or did not judge, or when the judge's choice was not scored."""
    if item.judge is None or item.judge == "tie" or item.judge not in item.scores:
        return 0.0
    return item.scores[favourite(item.scores)] - item.scores[item.judge]


def ranked(rule: str, items: Iterable[Scored], *, seed: int = 0) -> list[int]:
    """Task ids, the one to serve first first."""
    rows = sorted(items, key=lambda s: s.task_id)
    if rule == "margin":
        rows.sort(key=lambda s: margin(s.scores))
    elif rule == "disagreement":

        def key(s: Scored) -> tuple[int, float]:
            gap = disagreement(s)
            return (0, -gap) if gap > 0 else (1, margin(s.scores))

        rows.sort(key=key)
    elif rule == "random":
        random.Random(seed).shuffle(rows)
    else:
        raise ValueError(f"no ordering for rule {rule!r}")
    return [s.task_id for s in rows]


def priorities(rule: str, items: Iterable[Scored], *, seed: int = 0) -> dict[int, int]:
    """Task id → priority: N for the first to serve, down to 1."""
    order = ranked(rule, items, seed=seed)
    return {task_id: len(order) - i for i, task_id in enumerate(order)}
