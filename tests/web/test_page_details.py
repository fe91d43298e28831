"""Small things a person reads on the pages: which tab is open, where a page sits, no empty log box, why
position bias is (not) flagged, and which response each annotator saw as A or B."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Assignment, Role
from tests import factories
from tests.conftest import login

SEPARATOR = "\u203a"  # the breadcrumbs' separator, a single right-pointing angle quotation mark
CRUMBS_RE = re.compile(r'<nav class="crumbs"[^>]*>(.*?)</nav>', re.S)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_the_open_tab_is_marked_current_and_only_it(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    task = factories.make_tasks(db, project, 1)[0]
    login(client, lead.email)
    base = f"/projects/{project.id}"
    for path, tab in [
        (base, "Overview"),
        (f"{base}/dashboard", "Dashboard"),
        (f"{base}/review/{task.id}", "Review"),  # a page under a tab
        (f"{base}/settings", "Settings"),
    ]:
        page = client.get(path)
        assert page.status_code == 200, path
        nav = page.text.split('<nav class="tabs"', 1)[1].split("</nav>", 1)[0]
        current = re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', nav)
        assert current == [tab], (path, current)


def test_breadcrumbs_end_with_the_page_itself_not_a_separator(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead, name="Crumb project")
    task = factories.make_tasks(db, project, 1)[0]
    job = factories.make_job(db, project, lead)
    login(client, lead.email)
    for path, last in [
        (f"/jobs/{job.id}", f"Job #{job.id}"),
        (f"/projects/{project.id}/review/{task.id}", f"Task #{task.id}"),
    ]:
        page = client.get(path)
        (crumbs,) = CRUMBS_RE.findall(page.text)
        text = _text(crumbs)
        assert not text.endswith(SEPARATOR) and SEPARATOR not in text  # CSS draws them between items
        assert re.search(rf'<li aria-current="page">{re.escape(last)}</li>', crumbs), crumbs
    assert f"{SEPARATOR}</p>" not in client.get(f"/jobs/{job.id}").text


def test_a_job_without_a_log_shows_no_log_box(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    quiet, chatty = factories.make_job(db, project, lead), factories.make_job(db, project, lead)
    for job in (quiet, chatty):
        job.status = "succeeded"
    chatty.log = "read 3 lines\n"
    db.flush()
    login(client, lead.email)
    assert 'class="log"' not in client.get(f"/jobs/{quiet.id}").text
    assert "<h2>Log</h2>" not in client.get(f"/jobs/{quiet.id}").text
    assert "read 3 lines" in client.get(f"/jobs/{chatty.id}").text


def test_the_dashboard_says_how_many_choices_position_bias_needs(client: TestClient, db: Session) -> None:
    lead, annotator = factories.make_user(db), factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    factories.add_member(db, project, annotator, Role.annotator)
    for task in factories.make_tasks(db, project, 13):  # 13 of 13 for the first shown: not flagged, and why
        factories.make_annotation(db, task, annotator, {"choice": task.responses[0]["id"], "strength": 1})
    login(client, lead.email)
    page = _text(client.get(f"/projects/{project.id}/dashboard").text)
    assert "Flagged only from n ≥ 20 choices of a side" in page
    assert "flags position bias only from n ≥ 20" in page


def test_the_review_page_names_each_response_by_id_and_by_the_letter_its_annotator_saw(
    client: TestClient, db: Session
) -> None:
    lead, first, second = factories.make_user(db), factories.make_user(db), factories.make_user(db)
    project = factories.make_project(db, lead=lead, settings={"overlap": 2})
    task = factories.make_task(db, project, "Which greeting is friendlier?", ["Hello there!", "What."])
    as_stored = factories.make_annotation(db, task, first, {"choice": "a", "strength": 1})
    swapped = factories.make_annotation(db, task, second, {"choice": "a", "strength": 1})
    db.get_one(Assignment, swapped.assignment_id).order = ["b", "a"]  # the second annotator saw b first
    db.flush()
    login(client, lead.email)
    page = client.get(f"/projects/{project.id}/review/{task.id}").text
    cards = {
        uuid: _text(body)
        for uuid, body in re.findall(
            r'<article class="answer card[^"]*"[^>]*data-uuid="([^"]+)">(.*?)</article>', page, re.S
        )
    }
    assert "Shown to them: Response A = a, Response B = b" in cards[as_stored.uuid]
    assert "Shown to them: Response A = b, Response B = a" in cards[swapped.uuid]
