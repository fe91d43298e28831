"""Export rows of rewrites (edited ≻ chosen ≻ rejected, app/kinds/rewrites.py): which rewrites an export
counts, and the preference, kto and sft rows they become. Rows carry a `source` ("choice" or "edit") so a
trainer can filter or weight them; base.Rewritable adds the choice rows and the column.

The rewrites counted follow the aggregation: "all" takes every annotation's; the other modes those of the
annotations the aggregate rests on (votes.voters_of: "reviewed" takes the reviewed answers, whose results
already carry a reviewer's correction), less annotators "quality" gives no weight."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.kinds.rewrites import rewrite_of
from app.kinds.rows import ExportTask, RowForm, kto_row, preference_row, response_texts
from app.kinds.votes import Pair, voters_of

CHOICE, EDIT = "choice", "edit"


@dataclass(frozen=True, slots=True)
class Rewrite:
    response_id: str  # the response it improves
    text: str


def rewrites_on(settings: Mapping[str, Any]) -> bool:
    return settings.get("edits", "off") != "off"


def rewrites_left(task: ExportTask) -> int:
    """Rewrites a task's answers carry (a project whose edits were turned off after they were written)."""
    return sum(1 for vote in task.votes if rewrite_of(vote.result) is not None)


def counted_rewrites(
    task: ExportTask, form: RowForm, dropped: Counter[str], *, alone: bool
) -> list[Rewrite] | None:
    """The rewrites an export takes from one task, or None when the aggregation leaves the task out.
    `alone`: no choice rows are written beside them, so the reason a task is left out is counted here."""
    agg = form.options
    voters = list(task.votes) if agg.mode == "all" else voters_of(task.votes, agg)
    if isinstance(voters, str):
        if alone:
            dropped[voters] += 1
        return None
    originals = response_texts(task)
    found: list[Rewrite] = []
    for vote in voters:
        rewrite = rewrite_of(vote.result)
        if rewrite is None:
            continue
        rid, text = rewrite
        if agg.mode == "quality" and vote.weight <= 0:
            dropped["rewrite by an untrusted annotator"] += 1
        elif text.strip() == originals[rid].strip():
            dropped["rewrite unchanged"] += 1
        else:
            found.append(Rewrite(rid, text))
    if alone and not found:
        dropped["no rewrite"] += 1
    return found


def edit_preference_rows(
    task: ExportTask, rewrites: list[Rewrite], form: RowForm, dropped: Counter[str], *, margin: bool,
    scores: bool,
) -> list[dict[str, Any]]:  # fmt: skip
    """Each rewrite over every response of its task (its own original included): margin 0, no tie."""
    rows = []
    for rewrite in rewrites:
        for rid, text in response_texts(task).items():
            if text.strip() == rewrite.text.strip():  # it became another response: a pair of equals
                dropped["rewrite equals a response"] += 1
                continue
            pair = Pair(rewrite.response_id, rid, tie=False, agreement=1.0, votes=1, margin=0.0)
            row = preference_row(form, task.prompt, rewrite.text, text, pair, margin=margin, scores=scores)
            rows.append(row | {"source": EDIT})
    return rows


def edit_kto_rows(task: ExportTask, rewrites: list[Rewrite], form: RowForm) -> list[dict[str, Any]]:
    """Each rewrite desirable, the response it replaced undesirable: once per annotation in "all", once per
    response in an aggregate."""
    originals = response_texts(task)
    rows: list[dict[str, Any]] = []
    replaced: set[str] = set()
    for rewrite in rewrites:
        rows.append(kto_row(form, task.prompt, rewrite.text, True) | {"source": EDIT})
        if form.options.mode == "all" or rewrite.response_id not in replaced:
            replaced.add(rewrite.response_id)
            rows.append(kto_row(form, task.prompt, originals[rewrite.response_id], False) | {"source": EDIT})
    return rows
