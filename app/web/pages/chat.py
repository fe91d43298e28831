"""The live chat pages of a chat project (app/chat): the annotator's conversations, one conversation with
its current turn (the candidates stream in: the turn block polls while the worker writes them), and, for
reviewers and leads, any conversation as a tree of turns. The page's script (static/chat.js) posts JSON
to these routes with the session's CSRF header, as the annotate page does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.auth.policies import is_own, role_in
from app.chat import service
from app.core.errors import Forbidden
from app.kinds.chat import chat_kind
from app.models import ChatTurn, Conversation, Project, Role, User
from app.web.deps import CurrentUser, IdPath, ProjectAsAnnotator, SessionDep
from app.web.templating import render

router = APIRouter()


class SendBody(BaseModel):
    uuid: str = Field(max_length=64)
    text: str = Field(max_length=200_000)  # the project's own limit is checked by the service


class PickBody(BaseModel):
    result: dict[str, Any]
    lead_time_ms: int | None = Field(None, ge=0, le=7 * 24 * 3600 * 1000)


class SlotBody(BaseModel):
    slot: int = Field(ge=0, le=1)


class CandidateBody(BaseModel):
    candidate: str = Field(max_length=20)


def _reads_all(session: Session, project: Project, user: User) -> bool:
    """Reviewers and leads read every conversation of the project; an annotator their own."""
    role = role_in(session, project_id=project.id, user=user)
    return user.is_admin or (role is not None and role >= Role.reviewer)


def _nav(session: Session, project: Project, user: User) -> dict[str, Any]:
    """What the project's tabs ask."""
    return {"role": role_in(session, project_id=project.id, user=user), "Role": Role}


def _conversation(session: Session, project: Project, cid: int, user: User, *, acting: bool) -> Conversation:
    conversation = service.conversation_in(
        session, project, cid, user, everyone=_reads_all(session, project, user)
    )
    if acting and not is_own(conversation.user_id, user):
        raise Forbidden("only the annotator holding this conversation can continue it")
    return conversation


def _context(session: Session, project: Project, conversation: Conversation, user: User) -> dict[str, Any]:
    turns = service.turns_of(session, conversation)
    path = service.path_to(turns, conversation.head_turn_id)
    children: dict[int | None, list[ChatTurn]] = {}
    for turn in turns:
        children.setdefault(turn.parent_id, []).append(turn)
    mine = conversation.user_id == user.id
    composing = mine and (not path or path[-1].status == "picked")
    # The budget line shows under the composer only; the page polls twice a second while replies stream,
    # and the project-wide sum is not read for those polls.
    spent = service.spent(session, project) if composing and project.settings.get("max_cost") else None
    return {
        "project": project,
        "conversation": conversation,
        "path": path,
        "current": path[-1] if path else None,
        "children": children,
        "mine": mine,
        "settings": project.settings,
        "letters": "AB",
        "ids": service.IDS,
        "spent": spent,
        **_nav(session, project, user),
    }


@router.get("/projects/{pid}/chat")
def chat_home(
    request: Request, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep
) -> Response:
    chat_kind(project)  # NotFound for a project of another kind
    everyone = _reads_all(session, project, user)
    conversations = service.conversations_of(session, project, user, everyone=everyone)
    context = {
        "project": project,
        "conversations": conversations,
        "everyone": everyone,
        **_nav(session, project, user),
    }
    return render(request, "chat/home.html", context)


@router.post("/projects/{pid}/chat")
def new_conversation(project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep) -> Response:
    conversation = service.start(session, project, user)
    return RedirectResponse(f"/projects/{project.id}/chat/{conversation.id}", status_code=303)


@router.get("/projects/{pid}/chat/{conv_id}")
def conversation_page(
    request: Request, conv_id: IdPath, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep
) -> Response:
    """The conversation; with HX-Request only its current turn (the page polls it while replies stream)."""
    conversation = _conversation(session, project, conv_id, user, acting=False)
    return render(
        request, "chat/conversation.html", _context(session, project, conversation, user), block="turn"
    )


@router.post("/projects/{pid}/chat/{conv_id}/send")
def send(
    body: SendBody, conv_id: IdPath, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep
) -> Response:
    conversation = _conversation(session, project, conv_id, user, acting=True)
    turn = service.send(session, project, conversation, user, turn_uuid=body.uuid, text=body.text)
    return JSONResponse({"turn_id": turn.id, "status": turn.status}, status_code=201)


@dataclass(frozen=True)
class Held:
    """A turn of a conversation the caller holds (the path's {conv_id} and {turn_id})."""

    project: Project
    user: User
    conversation: Conversation
    turn: ChatTurn


def _held(
    conv_id: IdPath, turn_id: IdPath, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep
) -> Held:
    conversation = _conversation(session, project, conv_id, user, acting=True)
    return Held(project, user, conversation, service.turn_in(session, conversation, turn_id))


HeldTurn = Annotated[Held, Depends(_held)]


@router.post("/projects/{pid}/chat/{conv_id}/turns/{turn_id}/pick")
def pick(body: PickBody, held: HeldTurn, session: SessionDep) -> Response:
    turn = service.pick(
        session, held.project, held.conversation, held.turn, held.user, answer=body.result,
        lead_time_ms=body.lead_time_ms,
    )  # fmt: skip
    return JSONResponse({"task_id": turn.task_id, "chosen": turn.chosen})


@router.post("/projects/{pid}/chat/{conv_id}/turns/{turn_id}/retry")
def retry(body: SlotBody, held: HeldTurn, session: SessionDep) -> Response:
    turn = service.retry(session, held.project, held.turn, held.user, body.slot)
    return JSONResponse({"status": turn.status})


@router.post("/projects/{pid}/chat/{conv_id}/turns/{turn_id}/continue")
def go_on(body: CandidateBody, held: HeldTurn, session: SessionDep) -> Response:
    turn = service.go_on(session, held.conversation, held.turn, body.candidate)
    return JSONResponse({"chosen": turn.chosen})


@router.post("/projects/{pid}/chat/{conv_id}/turns/{turn_id}/cancel")
def cancel(held: HeldTurn, session: SessionDep) -> Response:
    turn = service.cancel(session, held.turn)
    return JSONResponse({"status": turn.status})


@router.post("/projects/{pid}/chat/{conv_id}/turns/{turn_id}/branch")
def branch(held: HeldTurn, session: SessionDep) -> Response:
    conversation = service.branch(session, held.conversation, held.turn)
    return JSONResponse({"head_turn_id": conversation.head_turn_id})
