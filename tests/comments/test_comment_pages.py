"""Comments on the pages: the review page and a task's thread page show them (hostile Markdown escaped),
a form's error comes back in place with what was typed, and the inbox counts, opens and marks read."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.policies import comment_role
from app.comments import service
from app.models import Notification
from tests.comments.conftest import Team
from tests.conftest import sign_in

HTMX = {"HX-Request": "true"}
HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) "
    "![p](https://evil.example/p.png) **bold**"
)


def _comment(db: Session, team: Team, author, body: str, **extra):  # type: ignore[no-untyped-def]
    role = comment_role(db, task=team.task, user=author)
    comment, _ = service.post_comment(db, task=team.task, author=author, role=role, body=body, **extra)
    return comment


def test_hostile_comments_are_escaped_on_the_review_and_thread_pages(
    client: TestClient, db: Session, team: Team
) -> None:
    _comment(db, team, team.ann1, HOSTILE)
    for user, url in ((team.reviewer, f"/projects/{team.project.id}/review/{team.task.id}"),
                      (team.ann1, f"/projects/{team.project.id}/tasks/{team.task.id}/comments")):  # fmt: skip
        sign_in(client, user.id)
        page = client.get(url)
        assert page.status_code == 200, page.text
        block = page.text.split('id="comments-block"', 1)[1]
        assert "<script>alert" not in block and "&lt;script&gt;alert(1)&lt;/script&gt;" in block
        assert "onerror" not in block.replace("onerror=alert(2)&gt;", "")  # only as escaped text
        assert 'href="javascript:' not in block and "<strong>bold</strong>" in block
        assert 'src="https://evil.example' not in block and "image from evil.example not shown" in block


def test_the_review_page_shows_each_answers_thread_to_reviewers_only(
    client: TestClient, db: Session, team: Team
) -> None:
    _comment(db, team, team.reviewer, "you chose A, why?", annotation_uuid=team.a1.uuid)
    _comment(db, team, team.reviewer, "everyone: read the rubric")
    sign_in(client, team.reviewer.id)
    review = client.get(f"/projects/{team.project.id}/review/{team.task.id}").text
    assert "you chose A, why?" in review and "everyone: read the rubric" in review
    sign_in(client, team.ann2.id)
    theirs = client.get(f"/projects/{team.project.id}/tasks/{team.task.id}/comments").text
    assert "everyone: read the rubric" in theirs and "you chose A, why?" not in theirs
    assert team.a1.uuid not in theirs  # not even offered as a place to comment
    sign_in(client, team.ann1.id)
    mine = client.get(f"/projects/{team.project.id}/tasks/{team.task.id}/comments").text
    assert "you chose A, why?" in mine and "On your answer" in mine


def test_a_comment_form_error_comes_back_in_place_with_the_text(
    client: TestClient, db: Session, team: Team
) -> None:
    csrf = sign_in(client, team.ann1.id)
    url = f"/projects/{team.project.id}/tasks/{team.task.id}/comments"
    typed = "my long note " + "x" * 20_000
    answer = client.post(url, data={"body": typed, "csrf_token": csrf}, headers=HTMX)
    assert answer.status_code == 422
    assert (
        answer.text.lstrip().startswith('<div id="comments-block"')
        and "at most 20000 characters" in answer.text
    )
    assert typed in answer.text
    parent = _comment(db, team, team.lead, "a thread")
    blank = client.post(
        url, data={"body": " ", "parent_id": str(parent.id), "csrf_token": csrf}, headers=HTMX
    )
    assert blank.status_code == 422 and "the comment is empty" in blank.text
    ok = client.post(url, data={"body": "fine @lena", "csrf_token": csrf}, headers=HTMX)
    assert ok.status_code == 200 and "fine @lena" in ok.text


def test_the_inbox_counts_opens_and_marks_read(client: TestClient, db: Session, team: Team) -> None:
    first = _comment(db, team, team.ann1, "@lena see this")
    _comment(db, team, team.ann1, "@lena and this")
    csrf = sign_in(client, team.lead.id)
    count = client.get("/inbox?part=count", headers=HTMX)
    assert 'data-testid="inbox-count">2<' in count.text
    page = client.get("/inbox").text
    assert page.count('data-testid="notification"') == 2 and "Ann One" in page and "mentioned you" in page
    n = db.scalar(select(Notification).where(Notification.comment_id == first.id))
    assert n is not None
    opened = client.get(f"/inbox/{n.id}")
    assert opened.status_code == 303
    assert (
        opened.headers["location"] == f"/projects/{team.project.id}/review/{team.task.id}#comment-{first.id}"
    )
    assert 'data-testid="inbox-count">1<' in client.get("/inbox?part=count", headers=HTMX).text
    done = client.post("/inbox/read", data={"all": "1", "csrf_token": csrf}, headers=HTMX)
    assert (
        done.status_code == 200 and done.headers["HX-Trigger"] == "inbox-changed" and "0 unread" in done.text
    )
    # someone else's notification cannot be opened
    sign_in(client, team.reviewer.id)
    assert client.get(f"/inbox/{n.id}").status_code == 404


def test_an_annotator_is_sent_to_the_tasks_thread_page(client: TestClient, db: Session, team: Team) -> None:
    c = _comment(db, team, team.lead, "@ann1 please re-check")
    n = db.scalar(select(Notification).where(Notification.comment_id == c.id))
    assert n is not None
    sign_in(client, team.ann1.id)
    opened = client.get(f"/inbox/{n.id}")
    assert (
        opened.headers["location"]
        == f"/projects/{team.project.id}/tasks/{team.task.id}/comments#comment-{c.id}"
    )
    assert "please re-check" in client.get(opened.headers["location"].split("#")[0]).text


def test_the_resolve_button_resolves_and_reopens(client: TestClient, db: Session, team: Team) -> None:
    c = _comment(db, team, team.ann1, "unclear")
    csrf = sign_in(client, team.reviewer.id)
    url = f"/projects/{team.project.id}/comments/{c.id}/resolve"
    done = client.post(f"{url}?resolved=1", data={"csrf_token": csrf}, headers=HTMX)
    assert done.status_code == 200 and "Resolved by Rita Review" in done.text and ">Reopen<" in done.text
    again = client.post(f"{url}?resolved=0", data={"csrf_token": csrf}, headers=HTMX)
    assert "Resolved by" not in again.text and "1 open" in again.text
    sign_in(client, team.ann2.id)
    csrf2 = f"csrf-{team.ann2.id}"
    assert client.post(f"{url}?resolved=1", data={"csrf_token": csrf2}, headers=HTMX).status_code == 403
