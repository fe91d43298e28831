"""Rewrites: an annotator of a pairwise or ranking task picks the better response, then may improve it
(Llama 3's edited ≻ chosen ≻ rejected). An answer carries them as `"edits": {"<response id>": "<text>"}`,
always naming the response by id, and `"neither_good": true` where the annotator found no response good
(a project with edits "required_if_neither_good" then asks for a rewrite). Agreement, the leaderboard and
the queue read the choice alone; exports read the rewrites too (app/kinds/base.py, Compared)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from app.core.errors import InvalidInput
from app.kinds.forms import FormFields, text_of


def _fail(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"result.{field}: {message}", field=f"result.{field}")


def clean_rewrites(
    settings: Mapping[str, Any],
    response_ids: list[str],
    result: Mapping[str, Any],
    preferred: Collection[str],
) -> dict[str, Any]:
    """The answer's rewrite fields in canonical form ({} when it has none), or InvalidInput naming the
    field. `preferred`: the response ids the answer ranks first (the ones a rewrite may improve)."""
    mode = settings.get("edits", "off")
    edits = result.get("edits") or {}
    neither_good = result.get("neither_good", False)
    if not isinstance(neither_good, bool):
        raise _fail("neither_good", "must be true or false")
    if neither_good and mode != "required_if_neither_good":
        raise _fail("neither_good", "this project does not ask whether neither response is good")
    if not isinstance(edits, dict):
        raise _fail("edits", "must map a response id to its rewritten text")
    if edits and mode == "off":
        raise _fail("edits", "this project takes no rewrites (its edits setting is off)")
    if len(edits) > 1:
        raise _fail("edits", "rewrite one response: the preferred one")
    limit = int(settings.get("edit_max_chars", 20_000))
    clean: dict[str, str] = {}
    for rid, text in edits.items():
        if rid not in response_ids:
            raise _fail(f"edits.{str(rid)[:60]}", f"this task has no response {str(rid)[:60]!r}")
        if rid not in preferred:
            raise _fail(
                f"edits.{rid}",
                f"only the preferred response ({', '.join(sorted(preferred))}) may be rewritten",
            )
        if not isinstance(text, str) or not text.strip():
            raise _fail(f"edits.{rid}", "the rewrite is empty")
        if len(text) > limit:
            raise _fail(
                f"edits.{rid}", f"the rewrite is {len(text):,} characters; this project's limit is {limit:,}"
            )
        clean[rid] = text
    if neither_good and not clean:
        raise _fail("edits", "neither response is good: rewrite the preferred one")
    return {**({"edits": clean} if clean else {}), **({"neither_good": True} if neither_good else {})}


def rewrites_from_form(form: FormFields) -> dict[str, Any]:
    """A reviewer's correction of a rewrite (the review page's `edit_of` and `edit` fields); `drop_edit` or
    an empty `edit` drops the rewrite (the reviewer rejected it and kept the choice)."""
    rid, text = text_of(form, "edit_of"), form.get("edit")
    out: dict[str, Any] = {}
    if text_of(form, "drop_edit"):
        return out
    if rid and isinstance(text, str) and text.strip():
        out["edits"] = {rid: text.replace("\r\n", "\n")}
    if text_of(form, "neither_good") and rid and isinstance(text, str) and text.strip():
        out["neither_good"] = True
    return out


def rewrite_of(result: Mapping[str, Any]) -> tuple[str, str] | None:
    """The response an answer rewrote and its new text, or None."""
    edits = result.get("edits")
    if not isinstance(edits, dict) or not edits:
        return None
    rid, text = next(iter(edits.items()))
    return str(rid), str(text)
