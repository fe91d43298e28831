"""A prompt template renders under limits: what it builds (checked before it is built where it can be
sized), its output, its loops and its time; loading other templates is refused. Each refusal is a 422
that says why, never a 500, and the render's memory stays bounded (tracemalloc peak). The limits are
small here, so that the same templates without them would allocate megabytes, not gigabytes."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.errors import InvalidInput
from app.prelabel import prompts
from tests import factories

BIG = 20_000_000  # 20 MB of text if a template were allowed to build it

_DOUBLE = "{{% set ns = namespace(s='a') %}}{{% for i in range(25) %}}{{% set ns.s = ns.s {op} ns.s %}}"
_DOUBLE += "{{% endfor %}}{{{{ ns.s|length }}}}"

BUILDERS = {
    "repeat": f"{{{{ ('a' * {BIG})|length }}}}",
    "repeat a list": f"{{{{ ([0] * {BIG // 8})|length }}}}",
    "ljust": f"{{{{ 'a'.ljust({BIG})|length }}}}",
    "center filter": f"{{{{ 'a'|center({BIG})|length }}}}",
    "printf width": f"{{{{ ('%{BIG}s' % 'a')|length }}}}",
    "format width": f"{{{{ '{{:>{BIG}}}'.format('a')|length }}}}",
    "format filter": f"{{{{ ('%{BIG}s'|format('a'))|length }}}}",
    "power": f"{{{{ (2 ** {BIG * 8})|string|length }}}}",
    "doubling": _DOUBLE.format(op="~"),
    "adding": _DOUBLE.format(op="+"),
    "join": "{{ ('ab' * 3000).join('cd' * 3000)|length }}",
    "replace": "{{ ('ab' * 3000).replace('', 'ef' * 3000)|length }}",
    "output": "{% for i in range(1000) %}{{ 'x' * 5000 }}{% endfor %}",
}


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "prompt_max_chars", 100_000)
    monkeypatch.setattr(get_settings(), "prompt_max_range", 10_000)
    monkeypatch.setattr(get_settings(), "prompt_render_seconds", 0.5)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_a_template_cannot_build_a_huge_value(db: Session, small_limits: None, name: str) -> None:
    project = factories.make_project(db)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(InvalidInput) as refused:
            prompts.check("", BUILDERS[name], project)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2
    assert peak < 2_000_000, f"{name}: peak {peak} bytes"
    assert "100000 characters" in refused.value.message


def test_loops_are_capped_and_a_render_is_timed(db: Session, small_limits: None) -> None:
    project = factories.make_project(db)
    with pytest.raises(InvalidInput, match="range"):
        prompts.check("", "{% for i in range(10001) %}{% endfor %}", project)
    started = time.perf_counter()
    with pytest.raises(InvalidInput, match=r"longer than 0\.5 s"):
        prompts.check(
            "", "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", project
        )
    assert time.perf_counter() - started < 2
    started = time.perf_counter()
    nested = "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}"
    with pytest.raises(InvalidInput, match=r"longer than 0\.5 s"):
        prompts.check("", nested, project)
    assert time.perf_counter() - started < 2


def test_default_limits_refuse_range_100001_and_allow_the_built_in_templates(db: Session) -> None:
    project = factories.make_project(db, settings={"allow_ties": True})
    with pytest.raises(InvalidInput, match=r"range\(\) of more than 100000"):
        prompts.check("", "{% for i in range(100001) %}{% endfor %}", project)
    system, body = prompts.DEFAULTS["judge"]
    rendered = prompts.check(system, body, project)
    assert "Response A:\nParis." in rendered[1]
    assert prompts.check(
        "", "{{ '%5s|%-3d' % ('a', 7) }}{{ '{:>4}'.format('b') }}{{ 'c'|center(5) }}", project
    )[1]


@pytest.mark.parametrize(
    "source",
    [
        "{% include 'x.txt' %}",
        "{% extends 'base.txt' %}",
        "{% import 'm.txt' as m %}",
        "{% from 'm' import f %}",
    ],
)
def test_loading_other_templates_is_not_allowed(client: TestClient, db: Session, source: str) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    r = client.post(
        f"/api/v1/projects/{project.id}/prompt-templates/judge",
        headers=auth,
        json={"system": "", "body": source},
    )
    assert r.status_code == 422, r.text
    assert "is not allowed in a prompt template" in r.json()["detail"]


def test_the_preview_page_answers_422_with_the_reason(
    client: TestClient, db: Session, small_limits: None
) -> None:
    from tests.conftest import sign_in

    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    csrf = sign_in(client, lead.id)
    r = client.post(
        f"/projects/{project.id}/prelabel/templates/judge",
        data={"csrf_token": csrf, "system": "", "body": BUILDERS["repeat"], "preview": "1"},
    )
    assert r.status_code == 422, r.text[:300]
    assert "a repetition would be longer than" in r.text
    r = client.post(
        f"/projects/{project.id}/prelabel/templates/judge",
        data={
            "csrf_token": csrf,
            "system": "",
            "body": "{% for i in range(100001) %}{% endfor %}",
            "preview": "1",
        },
    )
    assert r.status_code == 422, r.text[:300]
