"""Comments through /api/v1: threads, @mentions that reach only members who may read them, resolving, the
blind rule for annotations' threads, limits on bodies, and the inbox."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from tests import factories
from tests.comments.conftest import Team


def _auth(db: Session, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {factories.make_token(db, user)}"}


def _post(client: TestClient, h: dict[str, str], tid: int, **body: Any) -> Any:
    return client.post(f"/api/v1/tasks/{tid}/comments", json=body, headers=h)


def test_a_thread_with_replies_tells_mentioned_members_only(
    client: TestClient, db: Session, team: Team
) -> None:
    h1, hl = _auth(db, team.ann1), _auth(db, team.lead)
    first = _post(client, h1, team.task.id, body="Is B a refusal? @lena, also @out and @nobody")
    assert first.status_code == 201, first.text
    assert first.json()["notified"] == ["Lena Lead"]  # the outsider is no member: not told
    cid = first.json()["id"]
    reply = _post(client, hl, team.task.id, body="Yes, @Ann.One: mark it so", parent_id=cid)
    assert reply.status_code == 201 and reply.json()["parent_id"] == cid
    assert reply.json()["notified"] == ["Ann One"]
    deeper = _post(client, h1, team.task.id, body="thanks", parent_id=reply.json()["id"])
    assert deeper.json()["parent_id"] == cid  # threads are one level deep
    listed = client.get(f"/api/v1/tasks/{team.task.id}/comments", headers=_auth(db, team.ann2)).json()
    assert [c["id"] for c in listed] == [cid, reply.json()["id"], deeper.json()["id"]]
    assert listed[0]["author"] == "Ann One" and listed[0]["annotation_uuid"] is None
    inbox = client.get("/api/v1/inbox", headers=hl).json()
    assert inbox["unread"] == 1 and inbox["items"][0]["kind"] == "mention"
    assert inbox["items"][0]["url"] == f"/projects/{team.project.id}/review/{team.task.id}#comment-{cid}"
    assert client.get("/api/v1/inbox", headers=_auth(db, team.outsider)).json() == {"unread": 0, "items": []}


def test_an_annotations_thread_stays_hidden_from_the_other_annotators(
    client: TestClient, db: Session, team: Team
) -> None:
    hr, h1, h2 = _auth(db, team.reviewer), _auth(db, team.ann1), _auth(db, team.ann2)
    on_answer = _post(client, hr, team.task.id, body="Why A? @ann1 @ann2", annotation_uuid=team.a1.uuid)
    assert on_answer.status_code == 201, on_answer.text
    assert on_answer.json()["notified"] == ["Ann One"]  # ann2 may not read it, so is not told
    cid = on_answer.json()["id"]
    on_task = _post(client, hr, team.task.id, body="general note")
    seen_by_2 = client.get(f"/api/v1/tasks/{team.task.id}/comments", headers=h2).json()
    assert [c["id"] for c in seen_by_2] == [on_task.json()["id"]]
    assert client.patch(f"/api/v1/comments/{cid}", json={"resolved": True}, headers=h2).status_code == 404
    assert _post(client, h2, team.task.id, body="peek", parent_id=cid).status_code == 404
    assert _post(client, h2, team.task.id, body="peek", annotation_uuid=team.a1.uuid).status_code == 404
    assert client.get("/api/v1/inbox", headers=h2).json()["unread"] == 0
    # the author answers on their own answer: reviewers see the review's pseudonym, not the name
    own = _post(client, h1, team.task.id, body="I misread it", parent_id=cid)
    assert own.status_code == 201 and own.json()["author"] == "Ann One"
    as_reviewer = client.get(f"/api/v1/tasks/{team.task.id}/comments", headers=hr).json()
    mine = next(c for c in as_reviewer if c["id"] == own.json()["id"])
    assert mine["author"].startswith("annotator-") and mine["annotation_uuid"] == team.a1.uuid


def test_only_members_who_worked_on_a_task_see_its_comments(
    client: TestClient, db: Session, team: Team
) -> None:
    h1, ho = _auth(db, team.ann1), _auth(db, team.outsider)
    assert client.get(f"/api/v1/tasks/{team.other_task.id}/comments", headers=h1).status_code == 404
    assert _post(client, h1, team.other_task.id, body="hi").status_code == 404
    assert client.get(f"/api/v1/tasks/{team.task.id}/comments", headers=ho).status_code == 404
    assert _post(client, ho, team.task.id, body="hi").status_code == 404
    # a reviewer discusses any task of the project; a lead's mention of an annotator who cannot see the
    # task tells nobody
    hl = _auth(db, team.lead)
    posted = _post(client, hl, team.other_task.id, body="@ann1 please look")
    assert posted.status_code == 201 and posted.json()["notified"] == []


def test_a_thread_is_resolved_by_its_author_a_reviewer_or_a_lead(
    client: TestClient, db: Session, team: Team
) -> None:
    h1, h2, hr = _auth(db, team.ann1), _auth(db, team.ann2), _auth(db, team.reviewer)
    cid = _post(client, h1, team.task.id, body="unclear prompt").json()["id"]
    assert client.patch(f"/api/v1/comments/{cid}", json={"resolved": True}, headers=h2).status_code == 403
    done = client.patch(f"/api/v1/comments/{cid}", json={"resolved": True}, headers=h1)
    assert done.status_code == 200 and done.json()["resolved_at"] and done.json()["resolved_by"] == "Ann One"
    reopened = client.patch(f"/api/v1/comments/{cid}", json={"resolved": False}, headers=hr).json()
    assert reopened["resolved_at"] is None and reopened["resolved_by"] is None
    rid = _post(client, hr, team.task.id, body="ok", parent_id=cid).json()["id"]
    assert client.patch(f"/api/v1/comments/{rid}", json={"resolved": True}, headers=hr).status_code == 422


def test_authors_edit_and_delete_their_own(client: TestClient, db: Session, team: Team) -> None:
    h1, hl = _auth(db, team.ann1), _auth(db, team.lead)
    cid = _post(client, h1, team.task.id, body="first").json()["id"]
    assert client.patch(f"/api/v1/comments/{cid}", json={"body": "x"}, headers=hl).status_code == 403
    edited = client.patch(f"/api/v1/comments/{cid}", json={"body": "first, @rita"}, headers=h1).json()
    assert edited["body"] == "first, @rita" and edited["edited_at"]
    assert client.get("/api/v1/inbox", headers=_auth(db, team.reviewer)).json()["unread"] == 1
    client.patch(f"/api/v1/comments/{cid}", json={"body": "first, @rita!"}, headers=h1)
    assert client.get("/api/v1/inbox", headers=_auth(db, team.reviewer)).json()["unread"] == 1  # once
    _post(client, hl, team.task.id, body="answer", parent_id=cid)
    assert client.delete(f"/api/v1/comments/{cid}", headers=h1).status_code == 409  # others replied
    lone = _post(client, h1, team.task.id, body="typo").json()["id"]
    assert client.delete(f"/api/v1/comments/{lone}", headers=hl).status_code == 403
    assert client.delete(f"/api/v1/comments/{lone}", headers=h1).status_code == 204
    assert client.patch(f"/api/v1/comments/{lone}", json={"body": "y"}, headers=h1).status_code == 404


def test_bodies_are_limited_and_refuse_nul(client: TestClient, db: Session, team: Team) -> None:
    h1 = _auth(db, team.ann1)
    too_long = _post(client, h1, team.task.id, body="x" * 20_001)
    assert too_long.status_code == 422 and "20000" in too_long.text
    assert _post(client, h1, team.task.id, body="x" * 20_000).status_code == 201
    nul = _post(client, h1, team.task.id, body="a\u0000b")
    assert nul.status_code == 422 and "NUL" in nul.json()["detail"]
    blank = _post(client, h1, team.task.id, body="   ")
    assert blank.status_code == 422 and "empty" in blank.json()["detail"]


def test_the_inbox_marks_read_only_the_callers_own(client: TestClient, db: Session, team: Team) -> None:
    h1, hl, hr = _auth(db, team.ann1), _auth(db, team.lead), _auth(db, team.reviewer)
    _post(client, h1, team.task.id, body="@lena @rita one")
    _post(client, h1, team.task.id, body="@lena two")
    lead_items = client.get("/api/v1/inbox", headers=hl).json()["items"]
    rita_items = client.get("/api/v1/inbox", headers=hr).json()["items"]
    # someone else's ids do nothing
    after = client.post("/api/v1/inbox/read", json={"ids": [rita_items[0]["id"]]}, headers=hl).json()
    assert after["unread"] == 2
    after = client.post("/api/v1/inbox/read", json={"ids": [lead_items[0]["id"]]}, headers=hl).json()
    assert after["unread"] == 1 and after["items"][0]["read_at"] and not after["items"][1]["read_at"]
    assert client.post("/api/v1/inbox/read", json={"all": True}, headers=hl).json()["unread"] == 0
    assert client.get("/api/v1/inbox", headers=hr).json()["unread"] == 1


def test_someone_taken_off_the_project_is_shown_none_of_its_notifications(
    client: TestClient, db: Session, team: Team
) -> None:
    from app.models import Member

    h1, h2 = _auth(db, team.ann1), _auth(db, team.ann2)
    _post(client, h1, team.task.id, body="@ann2 look")
    assert client.get("/api/v1/inbox", headers=h2).json()["unread"] == 1
    member = db.get(Member, (team.project.id, team.ann2.id))
    assert member is not None
    db.delete(member)
    db.flush()
    assert client.get("/api/v1/inbox", headers=h2).json() == {"unread": 0, "items": []}
