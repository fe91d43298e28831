"""Credentials are the administrators' (issue 18, finding 6): they bind a key, kept in the worker's
environment, to the hosts it may go to. No answer carries a key; no credential reads Preflab's own settings
or the instance default key; leads can neither read nor change them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, Credential
from tests import factories
from tests.conftest import sign_in

KEY = "sk-vllm-test-key-abcdefghijklmnop-9z8y"
URL = "/api/v1/credentials"


def _admin(db: Session) -> dict[str, str]:
    return {"Authorization": f"Bearer {factories.make_token(db, factories.make_user(db, is_admin=True))}"}


def test_admins_bind_keys_to_hosts_and_never_see_a_key(
    client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_VLLM_API_KEY", KEY)
    auth = _admin(db)
    body = {"name": "Lab-vLLM", "env_var": "LAB_VLLM_API_KEY", "hosts": ["vllm.corp.example, 10.1.0.0/16"]}
    made = client.post(URL, json=body, headers=auth)
    assert made.status_code == 201, made.text
    read = made.json()
    assert read["name"] == "lab-vllm" and read["hosts"] == ["vllm.corp.example", "10.1.0.0/16"]
    assert read["hint"] == "…9z8y" and KEY not in made.text
    listed = client.get(URL, headers=auth)
    assert [c["name"] for c in listed.json()] == ["default", "lab-vllm"] and KEY not in listed.text
    assert listed.json()[0]["builtin"] is True and listed.json()[0]["hosts"] == ["api.openai.com"]

    changed = client.patch(f"{URL}/{read['id']}", json={"hosts": ["127.0.0.1", "loopback"]}, headers=auth)
    assert changed.status_code == 200 and changed.json()["hosts"] == ["127.0.0.1", "loopback"]
    assert KEY not in client.get(f"{URL}/{read['id']}", headers=auth).text

    again = client.post(URL, json=body, headers=auth)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    for secret in ({**body, "name": "other", "secret": KEY}, {"api_key": KEY}):
        refused = client.post(URL, json=secret, headers=auth)
        assert refused.status_code == 422 and "Preflab stores no keys" in refused.json()["detail"]
    assert client.patch(f"{URL}/{read['id']}", json={"key": KEY}, headers=auth).status_code == 422
    for hosts, message in (
        (["*"], "not a host name"),
        (["*.com"], "not a host name"),
        (["0.0.0.0/0"], "covers every address"),
        ([""], "at least one host"),
        (["api.example.com/v1"], "not a CIDR range"),
    ):
        bad = client.post(URL, json={**body, "name": "other", "hosts": hosts}, headers=auth)
        assert bad.status_code == 422 and message in bad.json()["detail"], (hosts, bad.text)
    reserved = client.post(URL, json={**body, "name": "default"}, headers=auth)
    assert reserved.status_code == 422 and "instance default key" in reserved.json()["detail"]

    assert client.delete(f"{URL}/{read['id']}", headers=auth).status_code == 204
    assert db.scalar(select(Credential).where(Credential.name == "lab-vllm")) is None
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.target_type == "credential")).all()
    assert sorted(actions) == ["credential.create", "credential.delete", "credential.update"]


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("PREFLAB_SECRET_KEY", "one of Preflab's own settings"),
        ("PREFLAB_SECRET_KEY_API_KEY", "one of Preflab's own settings"),
        ("PREFLAB_LLM_API_KEY", "one of Preflab's own settings"),
        ("preflab_database_url", "one of Preflab's own settings"),
        ("OPENAI_API_KEY", "holds the instance default key"),
        ("AWS_SECRET_ACCESS_KEY", "named like *_API_KEY"),
        ("PGPASSWORD", "named like *_API_KEY"),
        ("not a name", "not the name of an environment variable"),
    ],
)
def test_no_credential_reads_the_instance_settings_or_other_secrets(
    variable: str, message: str, client: TestClient, db: Session
) -> None:
    auth = _admin(db)
    body = {"name": "x", "env_var": variable, "hosts": ["10.0.0.1"]}
    made = client.post(URL, json=body, headers=auth)
    assert made.status_code == 422 and message in made.json()["detail"], made.text
    row = factories.make_credential(db, name="y")
    changed = client.patch(f"{URL}/{row.id}", json={"env_var": variable}, headers=auth)
    assert changed.status_code == 422 and message in changed.json()["detail"], changed.text


def test_a_lead_can_neither_read_nor_manage_credentials(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    row = factories.make_credential(db, name="lab", env_var="LAB_API_KEY", hosts="127.0.0.1")
    auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    for method, path, body in (
        ("GET", URL, None),
        ("POST", URL, {"name": "mine", "env_var": "MINE_API_KEY", "hosts": ["evil.example"]}),
        ("GET", f"{URL}/{row.id}", None),
        ("PATCH", f"{URL}/{row.id}", {"hosts": ["evil.example"]}),
        ("DELETE", f"{URL}/{row.id}", None),
    ):
        answer = client.request(method, path, json=body, headers=auth)
        assert answer.status_code == 403, (method, path, answer.text)
    assert db.get_one(Credential, row.id).hosts == "127.0.0.1"
    assert db.scalar(select(Credential).where(Credential.name == "mine")) is None
    # the settings form lists names and hosts, not variables
    settings = client.get(f"/api/v1/projects/{project.id}/prelabel/settings", headers=auth)
    assert {"name": "lab", "hosts": ["127.0.0.1"], "description": "", "fits": False} in settings.json()[
        "credentials"
    ]
    assert "LAB_API_KEY" not in settings.text
    csrf = sign_in(client, lead.id)
    assert client.get("/admin/credentials").status_code == 403
    posted = client.post(
        "/admin/credentials",
        data={"csrf_token": csrf, "name": "m", "env_var": "M_API_KEY", "hosts": "x.example"},
    )
    assert posted.status_code == 403
