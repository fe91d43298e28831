"""Pre-label jobs against the OpenAI-compatible stub, through the real `openai` client. Each job runs in this
process (run_prelabel_job is what the Celery task calls), so the stub's counters can be read directly."""

from __future__ import annotations

import threading
import time

import orjson
import pytest
from sqlalchemy import select

from app.core.config import get_settings
from app.core.db import session_scope
from app.core.errors import InvalidInput
from app.jobs.runtime import request_cancel
from app.models import Job, LlmCacheEntry, Project, Suggestion, Task
from app.prelabel.job import run_prelabel_job
from app.web.llm_stub import StubServer, tokens
from tests import factories
from tests.prelabel.conftest import job_row, project_with_tasks, start, suggestions_of

pytestmark = pytest.mark.usefixtures("committed")

LABELS = {"labels": ["Billing", "Delivery", "Account"]}


def test_label_job_records_suggestions_and_cost_is_tokens_times_price(llm: StubServer) -> None:
    prompts = [f"Ticket {i}: the billing page charged my card twice, billing is wrong." for i in range(6)]
    with session_scope() as s:
        project, lead = project_with_tasks(
            s, llm, settings=LABELS, prompts=prompts, price_in_per_1k=0.5, price_out_per_1k=2.0
        )
        job_id = start(s, project, lead, mode="label")
    assert run_prelabel_job(job_id) == "succeeded"
    job = job_row(job_id)
    rows = suggestions_of(job_id)
    assert len(rows) == 6 and all(r.error is None and r.kind == "label" for r in rows)
    for r in rows:
        assert r.result["labels"] == ["Billing"]  # the stub picks the label the text talks about
        assert 0 <= r.result["confidence"] <= 1
        assert r.model == "stub-model" and r.prompt_version == 1 and r.latency_ms is not None
        answer = orjson.dumps({"label": "Billing", "confidence": r.result["confidence"]}).decode()
        assert r.tokens_in > 0 and r.tokens_out == tokens(answer)  # the usage the endpoint reported
        assert r.cost == pytest.approx(r.tokens_in / 1000 * 0.5 + r.tokens_out / 1000 * 2.0)
    total_in, total_out = sum(r.tokens_in for r in rows), sum(r.tokens_out for r in rows)
    assert job.result["tokens_in"] == total_in and job.result["tokens_out"] == total_out
    assert job.result["cost"] == pytest.approx(total_in / 1000 * 0.5 + total_out / 1000 * 2.0)
    assert job.result["done"] == 6 and job.result["errors"] == 0 and job.progress == 1.0
    assert job.result["sent_to"] == "127.0.0.1" and job.result["model"] == "stub-model"
    assert llm.state.requests == 6


def test_concurrency_never_exceeds_the_setting(llm: StubServer) -> None:
    llm.state.latency_ms = 40
    with session_scope() as s:
        project, lead = project_with_tasks(s, llm, settings=LABELS, n=24, concurrency=3)
        job_id = start(s, project, lead, mode="label")
    assert run_prelabel_job(job_id) == "succeeded"
    assert llm.state.requests == 24
    assert llm.state.max_in_flight == 3  # never more, and the limit was used


def test_the_requests_per_minute_cap_spaces_requests(llm: StubServer) -> None:
    with session_scope() as s:
        project, lead = project_with_tasks(
            s, llm, settings=LABELS, n=6, concurrency=6, requests_per_minute=600
        )
        job_id = start(s, project, lead, mode="label")
    started = time.monotonic()
    assert run_prelabel_job(job_id) == "succeeded"
    assert time.monotonic() - started >= 0.5  # six starts, 0.1 s apart, although six could go at once
    assert llm.state.requests == 6


def test_rate_limits_and_server_errors_are_retried_until_they_succeed(llm: StubServer) -> None:
    prompts = [
        "plain ticket",
        "[stub:429ms=2] busy endpoint",
        "[stub:429=1] busy without a header",
        "[stub:500=1] flaky endpoint",
    ]
    with session_scope() as s:
        project, lead = project_with_tasks(s, llm, settings=LABELS, prompts=prompts, max_retries=3)
        job_id = start(s, project, lead, mode="label")
    assert run_prelabel_job(job_id) == "succeeded"
    job = job_row(job_id)
    assert job.result["done"] == 4 and job.result["errors"] == 0
    assert llm.state.by_status == {200: 4, 429: 3, 500: 1}
    assert job.result["requests"] == 4  # the client's retries are its own: one request per call from the job


def test_retries_give_up_and_the_item_records_the_error(llm: StubServer) -> None:
    with session_scope() as s:
        project, lead = project_with_tasks(
            s, llm, settings=LABELS, prompts=["fine", "[stub:429ms=9] always busy"], max_retries=2
        )
        job_id = start(s, project, lead, mode="label")
    assert run_prelabel_job(job_id) == "succeeded"
    failed = [r for r in suggestions_of(job_id) if r.error]
    assert len(failed) == 1 and failed[0].error.startswith("429 from the endpoint") and failed[0].result == {}
    assert llm.state.by_status[429] == 3  # the first try and two retries


def test_malformed_output_is_a_per_item_error_and_is_not_cached(llm: StubServer) -> None:
    prompts = ["a billing question", "[stub:malformed] a broken answer", "another billing question"]
    with session_scope() as s:
        project, lead = project_with_tasks(s, llm, settings=LABELS, prompts=prompts)
        job_id = start(s, project, lead, mode="label")
    assert run_prelabel_job(job_id) == "succeeded"
    job = job_row(job_id)
    assert job.status == "succeeded" and job.result["done"] == 2 and job.result["errors"] == 1
    (bad,) = [r for r in suggestions_of(job_id) if r.error]
    assert "not JSON" in bad.error and bad.result == {} and bad.tokens_out > 0
    with session_scope() as s:
        assert (
            s.scalar(
                select(LlmCacheEntry.key).where(
                    LlmCacheEntry.response["content"].as_string().like("{not json%")
                )
            )
            is None
        )
        project = s.get_one(Project, project.id)
        again = start(s, project, lead, mode="label")  # only the failed task is missing a suggestion
    assert run_prelabel_job(again) == "succeeded"
    assert llm.state.requests == 4 and job_row(again).result["errors"] == 1


def test_the_cache_answers_a_rerun_without_calling_the_endpoint(llm: StubServer) -> None:
    with session_scope() as s:
        project, lead = project_with_tasks(
            s, llm, settings=LABELS, n=5, price_in_per_1k=1.0, price_out_per_1k=1.0
        )
        first = start(s, project, lead, mode="label")
    assert run_prelabel_job(first) == "succeeded"
    assert llm.state.requests == 5
    with session_scope() as s:
        second = start(s, s.get_one(Project, project.id), lead, mode="label", filter={"only_missing": False})
    assert run_prelabel_job(second) == "succeeded"
    assert llm.state.requests == 5  # not one more
    job = job_row(second)
    assert job.result["cached"] == 5 and job.result["cost"] == 0 and job.result["requests"] == 0
    rows = suggestions_of(second)
    assert {r.task_id: r.result for r in rows} == {r.task_id: r.result for r in suggestions_of(first)}
    assert all(r.cost == 0 and r.tokens_in == 0 for r in rows)
    with session_scope() as s:
        third = start(
            s,
            s.get_one(Project, project.id),
            lead,
            mode="label",
            filter={"only_missing": False},
            use_cache=False,
        )
    assert run_prelabel_job(third) == "succeeded"
    assert llm.state.requests == 10


def test_the_budget_stops_the_job_cleanly(llm: StubServer) -> None:
    with session_scope() as s:
        project, lead = project_with_tasks(
            s,
            llm,
            settings=LABELS,
            n=30,
            concurrency=2,
            max_tokens=50,
            price_in_per_1k=10.0,
            price_out_per_1k=10.0,
        )
        job_id = start(s, project, lead, mode="label", budget={"max_cost": 3.0})
    assert run_prelabel_job(job_id) == "succeeded"
    job = job_row(job_id)
    rows = suggestions_of(job_id)
    assert job.result["stopped"] == "budget" and 0 < len(rows) < 30
    assert sum(r.cost for r in rows) == pytest.approx(job.result["cost"]) and job.result["cost"] <= 3.0
    assert llm.state.requests == len(rows) and job.progress < 1
    assert "stopped at the budget" in job.log


def test_cancel_stops_a_running_job(llm: StubServer) -> None:
    llm.state.latency_ms = 150
    with session_scope() as s:
        project, lead = project_with_tasks(s, llm, settings=LABELS, n=40, concurrency=2)
        job_id = start(s, project, lead, mode="label")
    outcome: list[str] = []
    runner = threading.Thread(target=lambda: outcome.append(run_prelabel_job(job_id)))
    runner.start()
    deadline = time.monotonic() + 10
    while llm.state.requests < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    with session_scope() as s:
        request_cancel(s, s.get_one(Job, job_id))
    runner.join(15)
    assert outcome == ["cancelled"]
    sent = llm.state.requests
    assert 4 <= sent < 20
    time.sleep(0.3)
    assert llm.state.requests == sent  # nothing more goes out
    assert job_row(job_id).status == "cancelled" and len(suggestions_of(job_id)) <= sent


def test_a_private_project_refuses_a_host_outside_the_allow_list_before_sending(
    llm: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "llm_allowed_hosts", "10.0.0.0/8")
    with session_scope() as s:
        project, lead = project_with_tasks(s, llm, settings=LABELS, n=3)
        project.is_private = True
        with pytest.raises(InvalidInput, match=r"127\.0\.0\.1 is not in it"):
            start(s, project, lead, mode="label")
        project.is_private = False  # queued while allowed, then made private: the worker refuses too
        job_id = start(s, project, lead, mode="label")
        project.is_private = True
    assert run_prelabel_job(job_id) == "failed"
    job = job_row(job_id)
    assert "private" in (job.error or "") and "Nothing was sent" in (job.error or "")
    assert llm.state.requests == 0 and suggestions_of(job_id) == []


def test_a_missing_key_fails_the_job_before_sending(llm: StubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRELABEL_TEST_API_KEY", raising=False)
    with session_scope() as s:
        factories.make_credential(s, name="lab", env_var="PRELABEL_TEST_API_KEY", hosts="127.0.0.1")
        project, lead = project_with_tasks(s, llm, settings=LABELS, n=2, credential="lab")
        job_id = start(s, project, lead, mode="label")
    assert run_prelabel_job(job_id) == "failed"
    assert "PRELABEL_TEST_API_KEY" in (job_row(job_id).error or "") and llm.state.requests == 0


def test_judge_asks_both_orders_and_reports_when_they_disagree(llm: StubServer) -> None:
    with session_scope() as s:
        project, lead = project_with_tasks(
            s,
            llm,
            kind="pairwise",
            prompts=["Which is better?", "[stub:judge=first] Which is better?"],
            responses=[["short", "a much longer and fuller answer"], ["tiny", "a longer answer"]],
        )
        job_id = start(s, project, lead, mode="judge")
    assert run_prelabel_job(job_id) == "succeeded"
    assert llm.state.requests == 4  # two orders per task
    by_task = {r.task_id: r.result for r in suggestions_of(job_id)}
    with session_scope() as s:
        tasks = list(s.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.id)))
        steady, biased = by_task[tasks[0].id], by_task[tasks[1].id]
    assert steady["choice"] == "b" and steady["orders_agree"] is True  # the longer one, by id, in both orders
    assert biased["choice"] == "tie" and biased["orders_agree"] is False
    assert set(steady) == {"choice", "rationale", "orders_agree", "confidence"}
    assert job_row(job_id).result["orders_disagree"] == 1


def test_generate_turns_prompts_into_pairwise_tasks_from_two_models(llm: StubServer) -> None:
    with session_scope() as s:
        project, lead = project_with_tasks(s, llm, kind="pairwise", prompts=["Explain DNS.", "Explain TLS."])
        job_id = start(s, project, lead, mode="generate", models=["model-one", "model-two"])
    assert run_prelabel_job(job_id) == "succeeded"
    with session_scope() as s:
        tasks = list(s.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.id)))
        for task in tasks:
            assert [r["id"] for r in task.responses] == ["a", "b"]
            assert [r["model"] for r in task.responses] == ["model-one", "model-two"]
            assert task.responses[0]["text"] != task.responses[1]["text"]
    rows = suggestions_of(job_id)
    assert sorted((r.task_id, r.model, tuple(r.result["response_ids"])) for r in rows) == sorted(
        [(t.id, "model-one", ("a",)) for t in tasks] + [(t.id, "model-two", ("b",)) for t in tasks]
    )
    assert llm.state.by_model == {"model-one": 2, "model-two": 2}
    with session_scope() as s:  # full tasks are skipped, not asked again
        again = start(s, s.get_one(Project, project.id), lead, mode="generate")
    assert run_prelabel_job(again) == "succeeded"
    assert job_row(again).result["skipped"] == {"already has enough responses": 2} and llm.state.requests == 4


def test_draft_and_redaction_say_what_was_sent(llm: StubServer) -> None:
    prompt = "Write to jane.doe@example.com or call +1 415 555 0100 about the refund."
    with session_scope() as s:
        project, lead = project_with_tasks(
            s, llm, kind="sft", prompts=[prompt], redact_emails=True, redact_phones=True
        )
        job_id = start(s, project, lead, mode="draft")
    assert run_prelabel_job(job_id) == "succeeded"
    (sent,) = llm.state.prompts
    assert "jane.doe" not in sent and "555" not in sent and "[EMAIL]" in sent and "[PHONE]" in sent
    (row,) = suggestions_of(job_id)
    assert row.result["response"].startswith(
        "[stub-model seed None] A considered answer to: Write to [EMAIL]"
    )
    job = job_row(job_id)
    assert job.result["redacted"] == {"emails": 1, "phones": 1}
    assert job.result["redaction"] == {"emails": True, "phones": True}
    assert "redacting e-mails and phones" in job.log and "to 127.0.0.1" in job.log
    with session_scope() as s:
        assert s.scalar(select(Suggestion.kind).where(Suggestion.job_id == job_id)) == "draft"
