"""Multipart forms are refused at a bounded number of parts (issue 18 #13: 100,000 nameless parts were
parsed for 15.8 s and accepted)."""

from __future__ import annotations

import time

import psutil
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.web.uploads import FORM_MAX_FIELDS, UPLOAD_MAX_PARTS
from tests import factories
from tests.conftest import login

_ROW = b'{"prompt": "p", "responses": ["a", "b"]}\n'


def _multipart(parts: list[bytes]) -> tuple[bytes, dict[str, str]]:
    body = b"".join(b"--BOUNDARY\r\n" + part for part in parts) + b"--BOUNDARY--\r\n"
    return body, {"Content-Type": "multipart/form-data; boundary=BOUNDARY"}


def _field(name: str | None, value: bytes = b"x") -> bytes:
    disposition = b"form-data" if name is None else b'form-data; name="' + name.encode() + b'"'
    return b"Content-Disposition: " + disposition + b"\r\n\r\n" + value + b"\r\n"


_FILE = b'Content-Disposition: form-data; name="file"; filename="t.jsonl"\r\n\r\n' + _ROW + b"\r\n"


def test_an_api_upload_of_thousands_of_nameless_parts_is_refused_at_the_cap(
    client: TestClient, db: Session
) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    body, headers = _multipart([_field(None)] * 20_000 + [_FILE])
    headers["Authorization"] = f"Bearer {factories.make_token(db, lead)}"
    process = psutil.Process()
    rss, began = process.memory_info().rss, time.perf_counter()
    r = client.post(f"/api/v1/projects/{project.id}/imports", content=body, headers=headers)
    elapsed, grown = time.perf_counter() - began, process.memory_info().rss - rss
    assert r.status_code == 422, r.text
    assert "needs a name" in r.json()["detail"]
    assert elapsed < 2 and grown < 64 << 20


def test_an_api_upload_repeating_one_field_name_is_refused_at_the_part_cap(
    client: TestClient, db: Session
) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    body, headers = _multipart([_field("same")] * 20_000 + [_FILE])
    headers["Authorization"] = f"Bearer {factories.make_token(db, lead)}"
    r = client.post(f"/api/v1/projects/{project.id}/imports", content=body, headers=headers)
    assert r.status_code == 422
    assert f"more than {UPLOAD_MAX_PARTS} parts" in r.json()["detail"]


def test_a_page_form_of_too_many_fields_is_refused(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    csrf = login(client, lead.email)
    fields = [_field("csrf_token", csrf.encode())] + [_field(f"f{i}") for i in range(FORM_MAX_FIELDS + 300)]
    body, headers = _multipart([*fields, _FILE])
    began = time.perf_counter()
    r = client.post(f"/projects/{project.id}/import", content=body, headers=headers)
    assert r.status_code == 400 and "Too many fields" in r.text
    assert time.perf_counter() - began < 2
    two_files, headers = _multipart([_field("csrf_token", csrf.encode()), _FILE, _FILE])
    r = client.post(f"/projects/{project.id}/import", content=two_files, headers=headers)
    assert r.status_code == 400 and "Too many files" in r.text
