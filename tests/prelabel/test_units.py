"""Pure pieces of pre-labeling: edit distance and origins, the host allow-list, redaction, templates."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput
from app.core.hosts import host_allowed
from app.kinds import get_kind
from app.kinds.edits import ACCEPTED, EDITED, REPLACED, levenshtein
from app.prelabel import prompts
from app.prelabel.endpoint import cache_key
from app.prelabel.modes import BadOutput, Item, interpret
from app.prelabel.redact import Redactor
from tests import factories


def _reference(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def test_bit_parallel_levenshtein_matches_the_textbook_algorithm() -> None:
    rnd = random.Random(7)
    for _ in range(400):
        a = "".join(rnd.choice("abcé ") for _ in range(rnd.randint(0, 90)))
        b = "".join(rnd.choice("abcé ") for _ in range(rnd.randint(0, 90)))
        assert levenshtein(a, b) == _reference(a, b)
    assert levenshtein("kitten", "sitting") == 3


def compare(kind: str, before: dict[str, Any], after: dict[str, Any], *, rejected: bool) -> tuple[str, int]:
    return get_kind(kind).review_origin(before, after, rejected=rejected)


def test_origins_and_distances_per_kind() -> None:
    assert compare("sft", {"response": "Hello world"}, {"response": "Hello world"}, rejected=False) == (
        ACCEPTED,
        0,
    )
    assert compare("sft", {"response": "Hello world"}, {"response": "Hello, world!"}, rejected=False) == (
        EDITED,
        2,
    )
    assert compare("sft", {"response": "abc"}, {"response": "xyz"}, rejected=True) == (REPLACED, 3)
    assert compare("classification", {"labels": ["a"]}, {"labels": ["a"]}, rejected=False) == (ACCEPTED, 0)
    assert compare("classification", {"labels": ["a"]}, {"labels": ["b"]}, rejected=False) == (REPLACED, 2)
    assert compare("classification", {"labels": ["a", "b"]}, {"labels": ["a"]}, rejected=False) == (EDITED, 1)
    assert compare("pairwise", {"choice": "a"}, {"choice": "b", "strength": 1}, rejected=False) == (
        REPLACED,
        1,
    )
    assert compare("pairwise", {"choice": "a"}, {"choice": "a", "strength": 2}, rejected=False) == (
        ACCEPTED,
        0,
    )
    ranked = {"choice": "a", "ranking": ["a", "b", "c"]}
    assert compare("ranking", ranked, {"ranking": ["b", "a", "c"]}, rejected=False) == (REPLACED, 1)
    assert compare("ranking", ranked, {"ranking": ["c", "b", "a"]}, rejected=False) == (REPLACED, 3)


def test_allow_list_words_ranges_and_names() -> None:
    default = "loopback,private"
    assert host_allowed("127.0.0.1", default) and host_allowed("localhost", default)
    assert (
        host_allowed("::1", default)
        and host_allowed("10.2.3.4", default)
        and host_allowed("192.168.1.9", default)
    )
    assert not host_allowed("api.openai.com", default)
    assert not host_allowed("8.8.8.8", default)
    assert not host_allowed("169.254.169.254", default)  # link-local (cloud metadata) is not "private"
    assert host_allowed("vllm.corp.example", "loopback,*.corp.example")
    assert not host_allowed("corp.example.evil.test", "*.corp.example")
    assert host_allowed("100.64.0.7", "100.64.0.0/10") and not host_allowed("127.0.0.1", "10.0.0.0/8")


def test_redaction_replaces_emails_and_phones_and_keeps_order_numbers() -> None:
    r = Redactor(emails=True, phones=True)
    text = "Mail priya.s@example.co.uk or call +44 20 7946 0958 about order KC-20417 (£64.99, 2024-01-15)."
    assert r.text(text) == "Mail [EMAIL] or call [PHONE] about order KC-20417 (£64.99, 2024-01-15)."
    assert r.counts == {"emails": 1, "phones": 1}
    assert Redactor(emails=False, phones=False).prompt(text) == text


def test_cache_key_names_endpoint_model_prompt_and_params() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    same = cache_key("http://h/v1", dict(reversed(list(body.items()))))
    assert cache_key("http://h/v1", body) == same
    assert cache_key("http://other/v1", body) != same
    assert cache_key("http://h/v1", {**body, "temperature": 0.5}) != same
    assert cache_key("http://h/v1", {**body, "model": "n"}) != same


def test_judge_maps_letters_back_to_ids_in_both_orders() -> None:
    item = Item(task_id=1, mode="judge", model="m", calls=[], orders=[["x", "y"], ["y", "x"]])
    agree = interpret(
        item,
        [
            '{"choice": "B", "rationale": "y is right", "confidence": 0.8}',
            '{"choice": "A", "rationale": "y again", "confidence": 0.6}',
        ],
    )
    assert agree == {"choice": "y", "rationale": "y is right", "orders_agree": True, "confidence": 0.7}
    biased = interpret(
        item,
        [
            '{"choice": "A", "rationale": "first", "confidence": 0.9}',
            '{"choice": "A", "rationale": "first", "confidence": 0.9}',
        ],
    )
    assert biased["choice"] == "tie" and biased["orders_agree"] is False and biased["confidence"] is None
    with pytest.raises(BadOutput, match="not JSON"):
        interpret(item, ["{oops", "{}"])


def test_templates_are_versioned_and_sandboxed(db: Session) -> None:
    project = factories.make_project(db, kind="classification")
    lead = factories.make_user(db)
    first = prompts.current(db, project=project, mode="label", user=lead)
    assert first.version == 1 and first.body == prompts.DEFAULTS["label"][1]
    edited = prompts.save(
        db, project=project, mode="label", system="s", body="Labels: {{ labels|join('/') }}", user=lead
    )
    assert edited.version == 2
    assert (
        prompts.save(db, project=project, mode="label", system="s", body=edited.body, user=lead).version == 2
    )
    assert [v.version for v in prompts.versions(db, project, "label")] == [2, 1]
    with pytest.raises(InvalidInput, match="does not parse"):
        prompts.check("", "{% if %}", project)
    with pytest.raises(InvalidInput):  # the sandbox refuses to reach Python internals
        prompts.check("", "{{ labels.__class__.__mro__ }}", project)
    with pytest.raises(InvalidInput, match="undefined"):
        prompts.check("", "{{ no_such_variable }}", project)
