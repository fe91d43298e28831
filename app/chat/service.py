"""Live conversations of a chat project (app/kinds/chat.py): an annotator writes the user turns, the worker
asks two models for each reply (app/chat/generate.py), the annotator picks one (with strength), may
rewrite it, and the conversation goes on from it. A picked turn becomes a pairwise task of the project,
its prompt the conversation so far, answered by the annotator who picked: so exports, agreement and the
leaderboard read it like any other, and other annotators can judge it too where overlap asks for more.

A conversation is a tree: `head_turn_id` is the turn the next user message follows, and an annotator may
go back to an earlier picked turn and branch from it. Every step is idempotent: a turn is named by the
client's UUID (a double send records one turn), a second pick of a turn returns the first."""

from __future__ import annotations

import random
import uuid as uuid_module
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.policies import in_project, own
from app.core.errors import Conflict, InvalidInput, NotFound
from app.imports.service import TaskWriter
from app.imports.shapes import TaskRow
from app.jobs.runtime import create_job, request_cancel
from app.kinds import kind_of
from app.kinds.chat import chat_kind
from app.labeling.schemas import AnnotationPut
from app.labeling.service import submit_annotation
from app.models import Annotation, Assignment, ChatTurn, Conversation, Job, Project, Task, User, utcnow
from app.prelabel.endpoint import check_destination, effective_settings

CHAT_TASK = "chat.generate"
IDS = ("c1", "c2")  # the candidates of a turn, as its task's response ids


def _chat_project(project: Project) -> None:
    chat_kind(project)


def conversations_of(session: Session, project: Project, user: User, *, everyone: bool) -> list[Conversation]:
    """The caller's conversations, newest first; `everyone` (reviewers and leads): all of the project's."""
    stmt = select(Conversation).where(Conversation.project_id == project.id)
    if not everyone:
        stmt = stmt.where(Conversation.user_id == user.id)
    return list(session.scalars(stmt.order_by(Conversation.id.desc()).limit(200)))


def start(session: Session, project: Project, user: User) -> Conversation:
    _chat_project(project)
    system = str(project.settings.get("system_prompt") or "").strip() or None
    conversation = Conversation(
        project_id=project.id, user_id=user.id, system_prompt=system, updated_at=utcnow()
    )
    session.add(conversation)
    session.flush()
    return conversation


def conversation_in(
    session: Session, project: Project, cid: int, user: User, *, everyone: bool
) -> Conversation:
    """A conversation of the project: the caller's own, or any where `everyone` (reviewers and leads read
    them all); NotFound otherwise, so an annotator cannot tell another's exists."""
    _chat_project(project)
    found = in_project(session.get(Conversation, cid), project, missing=f"conversation {cid} not found")
    return found if everyone else own(found, user, missing=f"conversation {cid} not found")


def turn_in(session: Session, conversation: Conversation, turn_id: int) -> ChatTurn:
    turn = session.get(ChatTurn, turn_id)
    if turn is None or turn.conversation_id != conversation.id:
        raise NotFound(f"turn {turn_id} not found in this conversation")
    return turn


def turns_of(session: Session, conversation: Conversation) -> list[ChatTurn]:
    """Every turn of the conversation (the tree), oldest first."""
    stmt = select(ChatTurn).where(ChatTurn.conversation_id == conversation.id).order_by(ChatTurn.id)
    return list(session.scalars(stmt))


def path_to(turns: list[ChatTurn], head_id: int | None) -> list[ChatTurn]:
    """The turns from the first to `head_id`, following parents."""
    by_id = {t.id: t for t in turns}
    path: list[ChatTurn] = []
    at = by_id.get(head_id) if head_id is not None else None
    while at is not None:
        path.append(at)
        at = by_id.get(at.parent_id) if at.parent_id is not None else None
    return path[::-1]


def messages_through(conversation: Conversation, path: list[ChatTurn]) -> list[dict[str, str]]:
    """The conversation as messages: the system prompt, then each picked turn's user text and reply."""
    messages = (
        [{"role": "system", "content": conversation.system_prompt}] if conversation.system_prompt else []
    )
    for turn in path:
        messages.append({"role": "user", "content": turn.user_text})
        if turn.reply is not None:
            messages.append({"role": "assistant", "content": turn.reply})
    return messages


def spent(session: Session, project: Project) -> float:
    """What the project's chats have cost so far (the endpoint's prices)."""
    total = session.scalar(
        select(func.coalesce(func.sum(ChatTurn.cost), 0.0))
        .join(Conversation, Conversation.id == ChatTurn.conversation_id)
        .where(Conversation.project_id == project.id)
    )
    return float(total or 0.0)


def send(
    session: Session, project: Project, conversation: Conversation, user: User, *, turn_uuid: str, text: str
) -> ChatTurn:
    """Record the user's message as a new turn and queue the job that asks the models. A repeat of the same
    UUID returns the turn it recorded; nothing is recorded when the message or the endpoint is refused."""
    turn_uuid = _check_uuid(turn_uuid)
    earlier = session.scalar(select(ChatTurn).where(ChatTurn.uuid == turn_uuid))
    if earlier is not None:
        if earlier.conversation_id == conversation.id and earlier.user_text == text:
            return earlier
        raise Conflict("this turn id was already used for another message; generate a new UUID")
    settings = project.settings
    if not text.strip():
        raise InvalidInput("write a message first", field="text")
    limit = int(settings.get("max_user_chars", 8000))
    if len(text) > limit:
        raise InvalidInput(
            f"the message is {len(text):,} characters; this project's limit is {limit:,}", field="text"
        )
    turns = turns_of(session, conversation)
    path = path_to(turns, conversation.head_turn_id)
    if path and path[-1].status != "picked":
        raise Conflict("pick a reply to the last message first (or continue with the one that came)")
    if len(path) >= int(settings.get("max_turns", 30)):
        raise InvalidInput(
            f"this conversation has the most turns the project allows ({len(path)}); start a new one"
        )
    endpoint = effective_settings(project)
    check_destination(project, endpoint)  # a private project's data stays inside the allow-list
    budget = float(settings.get("max_cost") or 0)
    if budget and spent(session, project) >= budget:
        raise InvalidInput(f"the project's chat budget ({budget:g}) is spent: a lead can raise max_cost")
    slots = chat_kind(project).candidate_slots(settings, endpoint.model, len(path))
    candidates = [
        {
            "id": cid,
            "model": s["model"],
            "temperature": s["temperature"],
            "text": "",
            "status": "queued",
            "error": None,
        }
        for cid, s in zip(IDS, slots, strict=True)
    ]
    order = random.sample(list(IDS), k=len(IDS))  # shown shuffled and anonymized; recorded for position bias
    turn = ChatTurn(
        conversation_id=conversation.id,
        parent_id=path[-1].id if path else None,
        uuid=turn_uuid,
        depth=len(path) + 1,
        user_text=text,
        messages=[*messages_through(conversation, path), {"role": "user", "content": text}],
        candidates=candidates,
        order=order,
        status="generating",
    )
    session.add(turn)
    session.flush()
    turn.job_id = _generate(session, project, user, turn, [0, 1]).id
    conversation.head_turn_id = turn.id
    conversation.title = conversation.title or text.strip().splitlines()[0][:200]
    conversation.updated_at = utcnow()
    return turn


def _generate(session: Session, project: Project, user: User, turn: ChatTurn, slots: list[int]) -> Job:
    return create_job(
        session,
        kind="chat",
        task_name=CHAT_TASK,
        params={"turn_id": turn.id, "slots": slots},
        project_id=project.id,
        user_id=user.id,
    )


def retry(session: Session, project: Project, turn: ChatTurn, user: User, slot: int) -> ChatTurn:
    """Ask one failed candidate's model again."""
    if turn.status != "ready":
        raise Conflict("the replies are still coming, or one was already picked")
    if slot not in (0, 1) or turn.candidates[slot].get("status") != "failed":
        raise InvalidInput("only a failed reply can be asked for again", field="slot")
    candidates = [dict(c) for c in turn.candidates]
    candidates[slot] |= {"status": "queued", "error": None, "text": ""}
    turn.candidates, turn.status = candidates, "generating"
    turn.job_id = _generate(session, project, user, turn, [slot]).id
    return turn


def cancel(session: Session, turn: ChatTurn) -> ChatTurn:
    """Stop the models of a turn still generating: what came so far stays, the rest is failed."""
    if turn.status == "generating" and turn.job_id is not None:
        job = session.get(Job, turn.job_id)
        if job is not None:
            request_cancel(session, job)
            if job.status == "cancelled":  # no worker held it: nobody else ends the turn
                fail_unfinished(turn, "cancelled")
    return turn


ENDED = ("done", "failed")


def fail_unfinished(turn: ChatTurn, error: str) -> None:
    """The turn stops generating: replies that did not end are failed with `error` (unless they carry
    their own), so the page offers to ask again rather than waiting forever."""
    turn.candidates = [
        c if c.get("status") in ENDED else {**c, "status": "failed", "error": c.get("error") or error[:500]}
        for c in turn.candidates
    ]
    if turn.status == "generating":
        turn.status = "ready"


def pick(
    session: Session,
    project: Project,
    conversation: Conversation,
    turn: ChatTurn,
    user: User,
    *,
    answer: dict[str, Any],
    lead_time_ms: int | None,
) -> ChatTurn:
    """The annotator's judgement of a turn's two replies (a pairwise answer naming c1/c2): the turn becomes
    a task with that answer, and the conversation goes on from the chosen reply, or its rewrite. A second
    pick of the same turn returns it; a different one is refused."""
    if turn.status == "picked":
        if turn.task_id is not None and _answered_so(session, turn, user, answer):
            return turn
        raise Conflict("this turn was already judged")
    if turn.status != "ready" or any(c.get("status") != "done" for c in turn.candidates):
        raise Conflict(
            "both replies must be in to judge them: wait, retry the failed one, or go on with the other"
        )
    kind = kind_of(project)
    result = kind.validate_result(project.settings, list(IDS), answer)  # 422 before anything is written
    row = TaskRow(
        external_id=f"chat-turn-{turn.id}",
        prompt=list(turn.messages),
        responses=[{"id": c["id"], "text": c["text"], "model": c["model"]} for c in turn.candidates],
        meta={"conversation_id": conversation.id, "turn_id": turn.id, "depth": turn.depth,
              "temperatures": {c["id"]: c["temperature"] for c in turn.candidates}},
    )  # fmt: skip
    TaskWriter(session, project_id=project.id).write([row])
    task = session.scalars(
        select(Task).where(Task.project_id == project.id, Task.external_id == row.external_id)
    ).one()
    annotation_uuid = str(uuid_module.uuid5(uuid_module.NAMESPACE_URL, f"preflab-chat-{turn.uuid}"))
    stored = submit_annotation(
        session,
        annotation_uuid=annotation_uuid,
        user=user,
        body=AnnotationPut(task_id=task.id, result=result, lead_time_ms=lead_time_ms),
    ).annotation
    lease = session.get(Assignment, stored.assignment_id) if stored.assignment_id else None
    if lease is not None:
        lease.order = list(turn.order)  # what the annotator saw first, for the position-bias figures
    chosen = _continued_from(result, list(turn.order))
    turn.task_id, turn.chosen, turn.status = task.id, chosen, "picked"
    turn.reply = (result.get("edits") or {}).get(chosen) or _text_of(turn, chosen)
    conversation.updated_at = utcnow()
    return turn


def go_on(session: Session, conversation: Conversation, turn: ChatTurn, candidate: str) -> ChatTurn:
    """Continue with the one reply that came (the other failed): no task, as there is nothing to compare."""
    if turn.status != "ready":
        raise Conflict("the replies are still coming, or one was already picked")
    found = next((c for c in turn.candidates if c["id"] == candidate), None)
    if found is None or found.get("status") != "done":
        raise InvalidInput("continue with a reply that came", field="candidate")
    turn.chosen, turn.reply, turn.status = candidate, found["text"], "picked"
    conversation.updated_at = utcnow()
    return turn


def branch(session: Session, conversation: Conversation, turn: ChatTurn) -> Conversation:
    """Go back to an earlier picked turn: the next message follows it (the conversation's tree branches)."""
    if turn.status != "picked":
        raise Conflict("branch from a turn whose reply was picked")
    conversation.head_turn_id = turn.id
    conversation.updated_at = utcnow()
    return conversation


def _continued_from(result: dict[str, Any], order: list[str]) -> str:
    """The reply the conversation goes on from: the chosen one, or after a tie the rewritten one, else the
    one shown first."""
    if result.get("choice") in IDS:
        return str(result["choice"])
    edits = result.get("edits") or {}
    return next(iter(edits)) if edits else order[0]


def _text_of(turn: ChatTurn, cid: str) -> str:
    return next(str(c["text"]) for c in turn.candidates if c["id"] == cid)


def _answered_so(session: Session, turn: ChatTurn, user: User, answer: dict[str, Any]) -> bool:
    task = session.get(Task, turn.task_id)
    project = session.get_one(Project, task.project_id) if task else None
    if project is None:
        return False
    result = kind_of(project).validate_result(project.settings, list(IDS), answer)
    stored = session.scalar(
        select(Annotation).where(Annotation.task_id == turn.task_id, Annotation.user_id == user.id)
    )
    return stored is not None and stored.result == result


def _check_uuid(value: str) -> str:
    try:
        return str(uuid_module.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput("the turn id must be a UUID", field="uuid") from None
