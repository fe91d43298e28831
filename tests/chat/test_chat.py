"""Live chats: each user message is answered by two models on the worker, the annotator picks (and may
rewrite) one, the turn becomes a pairwise task whose prompt is the conversation so far, and the
conversation goes on from the chosen reply. Jobs run inline here (the browser test runs a real worker)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.chat import service
from app.chat.generate import run_chat_job
from app.core.db import session_scope
from app.core.errors import Conflict, InvalidInput
from app.models import Annotation, Assignment, ChatTurn, Conversation, Project, Task, User
from app.web.llm_stub import StubServer
from tests.chat.conftest import chat_project
from tests.exports.test_snapshots import export, rows


def _send(ids: dict[str, Any], conversation_id: int, text: str, turn_uuid: str | None = None) -> int:
    with session_scope() as session:
        project = session.get_one(Project, ids["project_id"])
        conversation = session.get_one(Conversation, conversation_id)
        user = session.get_one(User, ids["annotator_id"])
        turn = service.send(
            session, project, conversation, user, turn_uuid=turn_uuid or str(uuid.uuid4()), text=text
        )
        session.info.clear()  # this test runs the job itself, not a worker
        return turn.id


def _run(turn_id: int) -> ChatTurn:
    with session_scope() as session:
        job_id = session.get_one(ChatTurn, turn_id).job_id
    assert job_id is not None
    assert run_chat_job(job_id) == "succeeded"
    with session_scope() as session:
        turn = session.get_one(ChatTurn, turn_id)
        session.expunge(turn)
        return turn


def _pick(ids: dict[str, Any], turn_id: int, answer: dict[str, Any]) -> ChatTurn:
    with session_scope() as session:
        project = session.get_one(Project, ids["project_id"])
        turn = session.get_one(ChatTurn, turn_id)
        conversation = session.get_one(Conversation, turn.conversation_id)
        user = session.get_one(User, ids["annotator_id"])
        service.pick(session, project, conversation, turn, user, answer=answer, lead_time_ms=1500)
        session.flush()
        session.expunge(turn)
        return turn


def _conversation(ids: dict[str, Any]) -> int:
    with session_scope() as session:
        project = session.get_one(Project, ids["project_id"])
        return service.start(session, project, session.get_one(User, ids["annotator_id"])).id


def test_three_turns_become_pairwise_tasks_and_the_conversation_goes_on_from_the_pick(
    committed: None, stub: StubServer, tmp_path: Path
) -> None:
    ids = chat_project(stub, system_prompt="Be brief.", models=["model-a", "model-b", "model-c"])
    cid = _conversation(ids)
    replies = []
    for n, text in enumerate(["Name a prime.", "And an even one?", "Thanks!"]):
        turn = _run(_send(ids, cid, text))
        assert turn.status == "ready" and [c["status"] for c in turn.candidates] == ["done", "done"]
        assert all(f"answer to: {text.split()[0]}" in c["text"] for c in turn.candidates)
        assert sorted(turn.order) == ["c1", "c2"]
        expected_models = [["model-a", "model-b"], ["model-c", "model-a"], ["model-b", "model-c"]][n]
        assert [c["model"] for c in turn.candidates] == expected_models  # round-robin, two at a time
        chosen = turn.order[1]
        answer: dict[str, Any] = {"choice": chosen, "strength": 2}
        if n != 1:
            answer["edits"] = {chosen: f"My better reply {n}."}
        picked = _pick(ids, turn.id, answer)
        replies.append(
            f"My better reply {n}."
            if n != 1
            else next(c["text"] for c in turn.candidates if c["id"] == chosen)
        )
        assert picked.status == "picked" and picked.reply == replies[-1] and picked.task_id is not None

    with session_scope() as session:
        tasks = session.scalars(
            select(Task).where(Task.project_id == ids["project_id"]).order_by(Task.id)
        ).all()
        assert len(tasks) == 3
        last = tasks[2]
        assert last.prompt == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Name a prime."},
            {"role": "assistant", "content": replies[0]},
            {"role": "user", "content": "And an even one?"},
            {"role": "assistant", "content": replies[1]},
            {"role": "user", "content": "Thanks!"},
        ]
        assert [r["model"] for r in last.responses] == ["model-b", "model-c"]
        answers = session.scalars(select(Annotation).where(Annotation.project_id == ids["project_id"])).all()
        assert len(answers) == 3 and all(a.user_id == ids["annotator_id"] for a in answers)
        lease = session.get_one(Assignment, answers[0].assignment_id)
        turn1 = session.scalars(select(ChatTurn).order_by(ChatTurn.id)).first()
        assert turn1 is not None and lease.order == turn1.order  # the shown order, for position bias
        assert all(t.status == "done" for t in tasks)  # overlap 1: answered by the annotator who picked
        project = session.get_one(Project, ids["project_id"])
        manifest = export(session, project, tmp_path / "s", format="preference")
    got = rows(tmp_path / "s", manifest)
    assert manifest["rows_by_source"] == {"choice": 3, "edit": 4}  # two rewrites, each over both replies
    assert {r["source"] for r in got} == {"choice", "edit"}


def test_a_double_send_records_one_turn_and_a_second_pick_changes_nothing(
    committed: None, stub: StubServer
) -> None:
    ids = chat_project(stub)
    cid = _conversation(ids)
    key = str(uuid.uuid4())
    first = _send(ids, cid, "Hello?", key)
    assert _send(ids, cid, "Hello?", key) == first
    with pytest.raises(Conflict):
        _send(ids, cid, "Another message", key)
    with pytest.raises(Conflict):  # the first turn has no pick yet
        _send(ids, cid, "Too early")
    turn = _run(first)
    _pick(ids, turn.id, {"choice": "c1"})
    _pick(ids, turn.id, {"choice": "c1"})  # the same judgement again: nothing new
    with pytest.raises(Conflict):
        _pick(ids, turn.id, {"choice": "c2"})
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ChatTurn)) == 1
        assert (
            session.scalar(select(func.count()).select_from(Task).where(Task.project_id == ids["project_id"]))
            == 1
        )


def test_a_failing_model_shows_its_error_and_asking_again_brings_the_reply(
    committed: None, stub: StubServer
) -> None:
    stub.state.models["model-b"] = {"fail": 1}
    ids = chat_project(stub)
    cid = _conversation(ids)
    turn = _run(_send(ids, cid, "Tell me a joke"))
    failed = turn.candidates[1]
    assert (
        failed["status"] == "failed" and "500" in failed["error"] and turn.candidates[0]["status"] == "done"
    )
    with pytest.raises(Conflict):
        _pick(ids, turn.id, {"choice": "c1"})
    with session_scope() as session:
        project = session.get_one(Project, ids["project_id"])
        row = session.get_one(ChatTurn, turn.id)
        service.retry(session, project, row, session.get_one(User, ids["annotator_id"]), 1)
        session.info.clear()
    again = _run(turn.id)
    assert [c["status"] for c in again.candidates] == ["done", "done"]
    assert again.candidates[0]["text"] == turn.candidates[0]["text"]  # the reply that came is not asked again
    assert stub.state.by_model == {"model-a": 1, "model-b": 2}


def test_a_slow_model_is_stopped_at_the_turn_timeout(committed: None, stub: StubServer) -> None:
    stub.state.models["model-a"] = {"latency_ms": 8000}
    ids = chat_project(stub, turn_timeout_s=5)
    turn = _run(_send(ids, _conversation(ids), "Quick question"))
    assert turn.candidates[0]["status"] == "failed" and "5 s" in turn.candidates[0]["error"]
    assert turn.candidates[1]["status"] == "done"
    with session_scope() as session:  # go on with the one that came: no task, the reply continues it
        row = session.get_one(ChatTurn, turn.id)
        service.go_on(session, session.get_one(Conversation, row.conversation_id), row, "c2")
        assert row.reply == turn.candidates[1]["text"] and row.task_id is None


def test_bad_input_is_refused_and_records_nothing(committed: None, stub: StubServer) -> None:
    ids = chat_project(stub, max_user_chars=20)
    cid = _conversation(ids)
    for text, field in (("   ", "text"), ("x" * 21, "text")):
        with pytest.raises(InvalidInput) as refused:
            _send(ids, cid, text)
        assert refused.value.extra["field"] == field
    with pytest.raises(InvalidInput):
        _send(ids, cid, "hi", turn_uuid="not-a-uuid")
    turn = _run(_send(ids, cid, "Hi"))
    for answer in (
        {"choice": "c3"},
        {"choice": "c1", "edits": {"c2": "x"}},
        {"choice": "c1", "edits": {"c1": " "}},
    ):
        with pytest.raises(InvalidInput):
            _pick(ids, turn.id, answer)
    with session_scope() as session:
        assert (
            session.scalar(select(func.count()).select_from(Task).where(Task.project_id == ids["project_id"]))
            == 0
        )
        assert session.get_one(ChatTurn, turn.id).status == "ready"


def test_a_private_project_sends_nothing_to_a_host_outside_the_allow_list(
    committed: None, stub: StubServer
) -> None:
    ids = chat_project(stub)
    with session_scope() as session:
        project = session.get_one(Project, ids["project_id"])
        project.is_private = True
        project.llm = {**project.llm, "base_url": "https://api.example.com/v1"}
    cid = _conversation(ids)
    with pytest.raises(InvalidInput) as refused:
        _send(ids, cid, "A secret")
    assert "private" in refused.value.message
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ChatTurn)) == 0
    assert stub.state.requests == 0


def test_a_conversation_branches_from_an_earlier_turn(committed: None, stub: StubServer) -> None:
    ids = chat_project(stub)
    cid = _conversation(ids)
    first = _run(_send(ids, cid, "One"))
    _pick(ids, first.id, {"choice": "c1"})
    second = _run(_send(ids, cid, "Two"))
    _pick(ids, second.id, {"choice": "c2"})
    with session_scope() as session:
        conversation = session.get_one(Conversation, cid)
        service.branch(session, conversation, session.get_one(ChatTurn, first.id))
    other = _run(_send(ids, cid, "Two, differently"))
    assert other.parent_id == first.id and other.depth == 2
    assert [m["content"] for m in other.messages if m["role"] == "user"] == ["One", "Two, differently"]


def test_an_unreachable_endpoint_fails_the_replies_and_keeps_the_message(
    committed: None, stub: StubServer
) -> None:
    ids = chat_project(stub)
    with session_scope() as session:  # nothing listens there
        project = session.get_one(Project, ids["project_id"])
        project.llm = {**project.llm, "base_url": "http://127.0.0.1:9/v1"}
    turn = _run(_send(ids, _conversation(ids), "Are you there?"))
    assert turn.user_text == "Are you there?" and turn.status == "ready"
    assert all(c["status"] == "failed" and "cannot reach the endpoint" in c["error"] for c in turn.candidates)
