"""Metric curves drawn on the server as SVG polylines: no chart library, nothing to download."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import JobMetric

# The curves a training page shows first; any other logged metric follows.
PREFERRED = ["loss", "eval_loss", "rewards/accuracies", "accuracy", "rewards/margins", "margin", "kl",
             "mean_token_accuracy", "learning_rate", "grad_norm"]  # fmt: skip
HIDDEN = {"epoch", "num_tokens"}  # bookkeeping, not curves anyone reads
WIDTH, HEIGHT, PAD = 320, 120, 4


@dataclass
class Curve:
    name: str
    points: str  # "x,y x,y …" in the SVG's coordinates
    first: float
    last: float
    low: float
    high: float
    steps: int


def curves(session: Session, job_id: int, *, limit: int = 6) -> list[Curve]:
    rows = session.execute(
        select(JobMetric.name, JobMetric.step, JobMetric.value)
        .where(JobMetric.job_id == job_id)
        .order_by(JobMetric.name, JobMetric.step, JobMetric.id)
    ).all()
    series: dict[str, list[tuple[int, float]]] = {}
    for name, step, value in rows:
        if name not in HIDDEN:
            series.setdefault(name, []).append((step, value))
    names = sorted(series, key=lambda n: (PREFERRED.index(n) if n in PREFERRED else len(PREFERRED), n))
    return [_curve(name, series[name]) for name in names[:limit]]


def _curve(name: str, points: list[tuple[int, float]]) -> Curve:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    sx = (WIDTH - 2 * PAD) / ((x1 - x0) or 1)
    sy = (HEIGHT - 2 * PAD) / ((y1 - y0) or 1)
    drawn = " ".join(f"{PAD + (x - x0) * sx:.1f},{HEIGHT - PAD - (y - y0) * sy:.1f}" for x, y in points)
    return Curve(name, drawn, ys[0], ys[-1], y0, y1, len(points))
