"""Keys are bound to the endpoints they are for (issue 18, finding 6): a project names a credential, and the
worker sends its key only to the credential's hosts; the instance default key goes only to the instance
default endpoint. Everything else fails the job, naming the credential and the host, before anything is
sent: the stub's record of requests and Authorization headers says what left the worker."""

from __future__ import annotations

import pytest

from app.core.config import get_settings
from app.core.db import session_scope
from app.core.errors import InvalidInput
from app.credentials.binding import Key
from app.models import Credential, Job
from app.prelabel.endpoint import effective_settings, legacy_notice
from app.prelabel.job import run_prelabel_job
from app.prelabel.runner import endpoint_client
from app.prelabel.schemas import LlmSettings
from app.web.llm_stub import StubServer
from tests import factories
from tests.prelabel.conftest import endpoint, job_row, project_with_tasks, start

pytestmark = pytest.mark.usefixtures("committed")

LABELS = {"labels": ["Billing", "Delivery", "Account"]}
LAB_KEY = "sk-lab-key-0123456789abcdef"
DEFAULT_KEY = "sk-instance-default-key-0123456789"


def test_a_credential_is_sent_to_its_hosts_and_to_no_other(
    llm: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_API_KEY", LAB_KEY)
    with session_scope() as s:
        credential = factories.make_credential(s, name="lab", env_var="LAB_API_KEY", hosts="127.0.0.1")
        project, lead = project_with_tasks(s, llm, settings=LABELS, n=2, credential="lab")
        allowed = start(s, project, lead, mode="label")
        moved = start(s, project, lead, mode="label")
        credential_id = credential.id
    assert run_prelabel_job(allowed) == "succeeded"
    assert llm.state.authorizations == [f"Bearer {LAB_KEY}"] * 2

    # An administrator narrows the credential after the second job was queued: the worker refuses it.
    with session_scope() as s:
        s.get_one(Credential, credential_id).hosts = "10.0.0.7,*.corp.example"
    llm.state.reset()
    assert run_prelabel_job(moved) == "failed"
    error = job_row(moved).error or ""
    assert "'lab' may be sent only to 10.0.0.7, *.corp.example" in error
    assert "127.0.0.1 is not one of them" in error and "Nothing was sent" in error
    assert llm.state.requests == 0 and llm.state.authorizations == []

    with session_scope() as s:  # and no new job starts
        project = s.merge(project)
        with pytest.raises(InvalidInput, match=r"'lab' may be sent only to"):
            start(s, project, lead, mode="label")


def test_the_client_itself_refuses_a_key_for_another_host(llm: StubServer) -> None:
    settings = LlmSettings.model_validate(endpoint(llm))
    with pytest.raises(InvalidInput, match=r"'lab' may be sent only to 10\.0\.0\.7"):
        endpoint_client(settings, Key(value=LAB_KEY, credential="lab", hosts="10.0.0.7"))


def test_the_default_key_goes_only_to_the_default_endpoint(
    llm: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRELABEL_DEFAULT_API_KEY", DEFAULT_KEY)
    monkeypatch.setattr(get_settings(), "llm_api_key_env", "PRELABEL_DEFAULT_API_KEY")
    monkeypatch.setattr(get_settings(), "llm_base_url", llm.base_url)
    with session_scope() as s:
        project, lead = project_with_tasks(s, llm, settings=LABELS, n=2, credential="default")
        to_default = start(s, project, lead, mode="label")
        elsewhere = start(s, project, lead, mode="label")
        # a project that stored no endpoint at all takes the default endpoint and the default key
        bare, bare_lead = project_with_tasks(s, llm, settings=LABELS, prompts=["Where is my parcel?"])
        bare.llm = {"model": "stub-model"}
        bare_job = start(s, bare, bare_lead, mode="label")
    assert run_prelabel_job(to_default) == "succeeded" and run_prelabel_job(bare_job) == "succeeded"
    assert llm.state.authorizations == [f"Bearer {DEFAULT_KEY}"] * 3

    # The instance's default endpoint is elsewhere now; the project's endpoint is not it.
    monkeypatch.setattr(get_settings(), "llm_base_url", "https://llm.example.org/v1")
    llm.state.reset()
    assert run_prelabel_job(elsewhere) == "failed"
    error = job_row(elsewhere).error or ""
    assert "'default' may be sent only to llm.example.org" in error and "127.0.0.1 is not one" in error
    assert llm.state.requests == 0 and llm.state.authorizations == []

    # A lead naming the default key's variable the old way gets the same answer, not the key.
    with session_scope() as s:
        old, old_lead = project_with_tasks(s, llm, settings=LABELS, n=1)
        old.llm = {**endpoint(llm), "api_key_env": "PRELABEL_DEFAULT_API_KEY"}
        del old.llm["credential"]
        assert effective_settings(old).credential == "default"
        with pytest.raises(InvalidInput, match=r"'default' may be sent only to llm\.example\.org"):
            start(s, old, old_lead, mode="label")
    assert llm.state.requests == 0


def test_old_settings_naming_a_variable_send_nothing_and_say_why(llm: StubServer) -> None:
    """Settings saved before credentials named a variable; read now, any variable but the instance
    default's is no credential, and jobs are refused until a lead chooses one, even jobs queued then."""
    old_style = {k: v for k, v in endpoint(llm).items() if k != "credential"}
    with session_scope() as s:
        project, lead = project_with_tasks(s, llm, settings=LABELS, n=2)
        project.llm = {**old_style, "api_key_env": "PREFLAB_SECRET_KEY_API_KEY"}
        assert effective_settings(project).credential == ""
        notice = legacy_notice(project) or ""
        assert "PREFLAB_SECRET_KEY_API_KEY" in notice and "no longer reads" in notice
        with pytest.raises(InvalidInput, match="no longer reads"):
            start(s, project, lead, mode="label")
        project.llm = dict(endpoint(llm))  # a job queued before the upgrade carries the old settings
        queued = s.get_one(Job, start(s, project, lead, mode="label"))
        queued.params = {**queued.params, "settings": {**old_style, "api_key_env": "PREFLAB_SECRET_KEY"}}
        # an empty variable meant "no key" and still does: that endpoint is sent no Authorization at all
        keyless, keyless_lead = project_with_tasks(s, llm, settings=LABELS, n=2)
        keyless.llm = {**old_style, "api_key_env": ""}
        assert legacy_notice(keyless) is None
        keyless_job = start(s, keyless, keyless_lead, mode="label")
        queued_id = queued.id
    assert run_prelabel_job(queued_id) == "failed"
    assert "PREFLAB_SECRET_KEY" in (job_row(queued_id).error or "") and llm.state.requests == 0
    assert run_prelabel_job(keyless_job) == "succeeded"
    assert llm.state.requests == 2 and llm.state.authorizations == [None, None]
