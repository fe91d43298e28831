from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role
from tests import factories
from tests.conftest import sign_in

HTMX = {"HX-Request": "true"}


def test_annotate_page_renders_each_kind(client: TestClient, db: Session) -> None:
    user = factories.make_user(db)
    csrf = sign_in(client, user.id)
    for kind, marker in (
        ("pairwise", 'data-choice="tie"'),
        ("ranking", 'class="ranking"'),
        ("rating", 'class="rate-row"'),
        ("sft", 'class="editor"'),
        ("classification", 'data-label="positive"'),
    ):
        project = factories.make_project(db, kind=kind)
        factories.add_member(db, project, user, Role.annotator)
        factories.make_tasks(db, project, 1)
        page = client.get(f"/projects/{project.id}/annotate")
        assert page.status_code == 200 and marker in page.text, kind
        assert 'id="keymap"' in page.text and "/static/annotate.js" in page.text
    assert csrf


def test_page_submit_is_idempotent_and_the_next_block_is_served(client: TestClient, db: Session) -> None:
    user = factories.make_user(db)
    project = factories.make_project(db)
    factories.add_member(db, project, user, Role.annotator)
    tasks = factories.make_tasks(db, project, 2)
    csrf = sign_in(client, user.id)
    page = client.get(f"/projects/{project.id}/annotate").text
    assert f'data-task="{tasks[0].id}"' in page
    prefetched = client.get(f"/projects/{project.id}/annotate?ahead=1", headers=HTMX).text
    assert f'data-task="{tasks[1].id}"' in prefetched and "<html" not in prefetched
    body = {"uuid": str(uuid.uuid4()), "task_id": tasks[0].id, "result": {"choice": "a", "strength": 0}}
    headers = {"X-CSRF-Token": csrf}
    first = client.post(f"/projects/{project.id}/annotate/submit", json=body, headers=headers)
    again = client.post(f"/projects/{project.id}/annotate/submit", json=body, headers=headers)
    assert (
        first.status_code == 201 and again.status_code == 200 and first.json()["uuid"] == again.json()["uuid"]
    )
    assert client.post(f"/projects/{project.id}/annotate/submit", json=body).status_code == 403  # no CSRF
    current = client.get(f"/projects/{project.id}/annotate", headers=HTMX).text
    assert f'data-task="{tasks[1].id}"' in current
    progress = client.get(f"/projects/{project.id}/annotate?part=progress", headers=HTMX).text
    assert '<strong data-testid="done-today">1</strong>' in progress
