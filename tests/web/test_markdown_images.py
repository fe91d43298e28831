"""Issue 18, finding 10: an image in task or model text is fetched by every annotator's browser, which
tells its host who reads what and when. Rendered content loads images only from the instance itself
(paths, data: URIs) and from the hosts a project names in `image_hosts`; any other is a link."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.imports.service import import_rows
from app.models import Role
from app.web.templating import render_markdown
from tests import factories
from tests.conftest import login

BEACON = "![x](http://beacon.example/pixel.png)"
IMG_SRC = re.compile(r'<img[^>]*\ssrc="([^"]*)"')


def _annotate_page(client: TestClient, db: Session, **settings: object) -> str:
    project = factories.make_project(db, settings=dict(settings))
    project.instructions = f"Read this first. {BEACON}"
    annotator = factories.make_user(db)
    factories.add_member(db, project, annotator, Role.annotator)
    row = {"prompt": f"Which is kinder? {BEACON}", "responses": [f"This one. {BEACON}", "That one."]}
    import_rows(db, project_id=project.id, raw_rows=enumerate([row], 1))
    db.flush()
    login(client, annotator.email)
    page = client.get(f"/projects/{project.id}/annotate")
    assert page.status_code == 200
    return page.text


def test_task_and_model_text_load_no_image_from_another_host(client: TestClient, db: Session) -> None:
    page = _annotate_page(client, db)
    assert [src for src in IMG_SRC.findall(page) if "beacon" in src] == []
    assert page.count("image from beacon.example not shown") == 3  # instructions, prompt, response


def test_a_host_the_project_allows_serves_its_images(client: TestClient, db: Session) -> None:
    page = _annotate_page(client, db, image_hosts=["Beacon.Example"])
    assert IMG_SRC.findall(page).count("http://beacon.example/pixel.png") == 3
    assert "not shown" not in page


def test_images_from_the_instance_and_data_uris_load_and_tricks_do_not() -> None:
    html = render_markdown(
        "![a](/static/favicon.svg) ![b](data:image/png;base64,iVBORw0KGgo=) ![c](pixel.png) "
        "![d](//beacon.example/x.png) ![e](/\\beacon.example/x.png) "
        "![f](https://ok.example@beacon.example/x) ![g](HTTPS://BEACON.EXAMPLE/x.png) "
        "[h](data:image/png;base64,iVBORw0KGgo=)",
        image_hosts=["ok.example"],
    )
    srcs = IMG_SRC.findall(str(html))
    assert srcs[:3] == ["/static/favicon.svg", "data:image/png;base64,iVBORw0KGgo=", "pixel.png"]
    assert all(s.startswith("/%5C") for s in srcs[3:])  # the backslash is escaped: a path here, no host
    assert str(html).count("image from beacon.example not shown") == 3
    assert 'href="data:' not in str(html)  # a data: link stays dropped; only images keep data: URIs


def test_image_hosts_are_set_on_the_settings_form(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    csrf = login(client, lead.email)
    form = {"csrf_token": csrf, "name": project.name, "overlap": "1", "lease_minutes": "10"}
    r = client.post(f"/projects/{project.id}/settings", data={**form, "image_hosts": "http://x.example/a"})
    assert r.status_code == 422 and "is not a host name" in r.text
    r = client.post(
        f"/projects/{project.id}/settings", data={**form, "image_hosts": "Img.Example\ncdn.example"}
    )
    assert r.status_code == 303
    db.refresh(project)
    assert project.settings["image_hosts"] == ["img.example", "cdn.example"]
    assert "img.example\ncdn.example" in client.get(f"/projects/{project.id}/settings").text
