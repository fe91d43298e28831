"""How much the "quality" export aggregation trusts each annotator: the log-odds of their estimated
accuracy (gold answers when there are enough, else agreement with the majority of the unflagged others,
smoothed towards 1/2), and nothing for annotators the dashboard flags (fast, position-biased, low gold
accuracy, low agreement). A weighted majority with log-odds weights is the optimal vote for independent
annotators of known accuracy (Nitzan & Paroush, 1982)."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.models import Project
from app.quality.metrics import Figure
from app.quality.stats import compute_stats, trusted_agreement

MIN_GOLD = 3
MAX_WEIGHT = 4.0  # log-odds of ~98 %: one near-perfect annotator never outvotes everyone


def _rate(figure: dict[str, Any] | None) -> tuple[float, int]:
    if not figure or figure.get("value") is None:
        return 0.0, 0
    return float(figure["value"]) * int(figure["n"]), int(figure["n"])


def weight_of(annotator: dict[str, Any]) -> float:
    if annotator["flags"]:
        return 0.0
    hits, n = _rate(annotator["gold"])
    if n < MIN_GOLD:
        hits, n = _rate(annotator["majority_agreement"])
    p = (hits + 1) / (n + 2)
    return 0.0 if p <= 0.5 else min(math.log(p / (1 - p)), MAX_WEIGHT)


def annotator_weights(conn: Connection, project: Project) -> tuple[dict[int, float], dict[str, Any]]:
    """Weights by user id, and the figures behind them (named as on the dashboard) for the manifest."""
    with Session(bind=conn) as session:
        stats = compute_stats(session, project)
        flagged = {a["user_id"] for a in stats["annotators"] if a["flags"]}
        agreement = trusted_agreement(session, project, flagged)
    for a in stats["annotators"]:
        a["majority_agreement"] = agreement.get(a["user_id"], Figure(None)).as_dict()
    weights = {a["user_id"]: weight_of(a) for a in stats["annotators"]}
    shown = {
        a["name"]: {"weight": round(weights[a["user_id"]], 3), "flags": a["flags"]}
        for a in stats["annotators"]
    }
    return weights, shown
