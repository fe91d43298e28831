"""The chat Job, on the worker: ask each of a turn's candidate slots (a model at a temperature) for a reply
through the project's OpenAI-compatible endpoint, streaming, and write what has come in to the turn's row
every FLUSH_S, so the page shows the replies as they stream. Never inside a web request.

Each slot ends `done`, or `failed` with an error the page shows in its card (the endpoint's error, the
turn's timeout, a cancel); the annotator may retry a failed slot (another job for that slot alone) or go on
with the other. The privacy guard and the credential are checked here again before anything is sent, the
project's redaction applies to what is sent, and tokens and cost are recorded per slot and on the turn.
Safe to deliver twice: a slot that is already done is not asked again."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import openai
from sqlalchemy.orm import Session

from app.chat.service import ENDED, fail_unfinished
from app.core.aio import run_to_end
from app.core.db import session_scope
from app.credentials.service import key_for
from app.jobs.runtime import JobCancelled, RunningJob, run_job
from app.models import ChatTurn, Conversation, Job, Project
from app.prelabel.endpoint import check_destination, cost_of, effective_settings
from app.prelabel.redact import Redactor
from app.prelabel.runner import api_error, endpoint_client
from app.prelabel.schemas import LlmSettings

FLUSH_S = 0.25


@dataclass
class Slot:
    index: int
    model: str
    temperature: float
    text: str = ""
    status: str = "streaming"
    error: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int | None = None
    started: float = field(default_factory=time.monotonic)

    def written(self, candidate: dict[str, Any], settings: LlmSettings) -> dict[str, Any]:
        return {
            **candidate,
            "text": self.text,
            "status": self.status,
            "error": self.error,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": round(cost_of(self.tokens_in, self.tokens_out, settings), 6),
            "latency_ms": self.latency_ms,
        }


def run_chat_job(job_id: int) -> str:
    with run_job(job_id, "chat", failure="the replies could not be generated: {error}") as run:
        if run is None:
            return "skipped"
        run.settle = _settle
        return _generate(run)
    return run.status


def _generate(run: RunningJob) -> str:
    turn_id, wanted = int(run.params["turn_id"]), [int(i) for i in run.params["slots"]]
    with session_scope() as session:
        turn = session.get_one(ChatTurn, turn_id)
        conversation = session.get_one(Conversation, turn.conversation_id)
        project = session.get_one(Project, conversation.project_id)
        settings = effective_settings(project)
        host = check_destination(project, settings)  # again: the project may have become private
        key = key_for(session, name=settings.credential, host=host)
        chat = dict(project.settings)
        messages, candidates = list(turn.messages), list(turn.candidates)
    slots = [
        Slot(i, str(candidates[i]["model"]), float(candidates[i]["temperature"]))
        for i in wanted
        if candidates[i].get("status") != "done"  # a second delivery asks only for what is missing
    ]
    if not slots:
        return run.succeed(log="every reply was already in")
    redactor = Redactor(emails=settings.redact_emails, phones=settings.redact_phones)
    sent = [{"role": m["role"], "content": redactor.prompt(str(m.get("content", "")))} for m in messages]
    run.log(f"asking {', '.join(f'{s.model} (t={s.temperature})' for s in slots)} on {host}")
    run_to_end(lambda: _stream_all(run, turn_id, slots, sent, settings, key, chat), name="chat")
    failed = [s for s in slots if s.status != "done"]
    summary = f"{len(slots) - len(failed)} of {len(slots)} replies in"
    return run.succeed(log=summary + "".join(f"; {s.model}: {s.error}" for s in failed))


async def _stream_all(
    run: RunningJob,
    turn_id: int,
    slots: list[Slot],
    messages: list[dict[str, Any]],
    settings: LlmSettings,
    key: Any,
    chat: dict[str, Any],
) -> None:
    client = endpoint_client(settings, key)
    timeout = float(chat.get("turn_timeout_s", 60))
    limit = int(chat.get("max_reply_tokens", 512))
    streams = [asyncio.create_task(_one(client, slot, messages, limit, timeout)) for slot in slots]
    try:
        while not all(s.done() for s in streams):
            await asyncio.wait(streams, timeout=FLUSH_S)
            await asyncio.to_thread(_flush, turn_id, slots, settings)
            if await asyncio.to_thread(run.cancel_requested):
                for stream in streams:
                    stream.cancel()
                for slot in slots:
                    if slot.status not in ENDED:
                        slot.status, slot.error = "failed", "cancelled"
                await asyncio.to_thread(_flush, turn_id, slots, settings)
                raise JobCancelled
    finally:
        await client.close()
    await asyncio.to_thread(_flush, turn_id, slots, settings)


async def _one(
    client: openai.AsyncOpenAI, slot: Slot, messages: list[dict[str, Any]], limit: int, timeout: float
) -> None:
    """One candidate's reply, streamed into `slot`; its failure is the slot's, never the job's."""
    try:
        async with asyncio.timeout(timeout):
            stream = await client.chat.completions.create(  # type: ignore[call-overload]
                model=slot.model,
                messages=messages,
                temperature=slot.temperature,
                max_tokens=limit,
                stream=True,
                stream_options={"include_usage": True},
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    slot.text += chunk.choices[0].delta.content.replace(
                        "\x00", ""
                    )  # PostgreSQL JSON has no NUL
                if chunk.usage is not None:
                    slot.tokens_in, slot.tokens_out = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
        if not slot.text.strip():
            slot.status, slot.error = "failed", "the model answered with nothing"
        else:
            slot.status = "done"
    except TimeoutError:
        slot.status, slot.error = "failed", f"no complete reply in {timeout:.0f} s (the turn's timeout)"
    except asyncio.CancelledError:
        slot.status, slot.error = "failed", "cancelled"
        raise
    except Exception as exc:  # the endpoint's error, shown in the card
        slot.status, slot.error = "failed", api_error(exc)
    slot.latency_ms = round((time.monotonic() - slot.started) * 1000)


def _flush(turn_id: int, slots: list[Slot], settings: LlmSettings) -> None:
    """What the slots hold now, into the turn's row (this job is the only writer of its slots)."""
    with session_scope() as session:
        turn = session.get_one(ChatTurn, turn_id)
        candidates = [dict(c) for c in turn.candidates]
        for slot in slots:
            candidates[slot.index] = slot.written(candidates[slot.index], settings)
        turn.candidates = candidates
        turn.cost = round(sum(float(c.get("cost") or 0) for c in candidates), 6)


def _settle(session: Session, job: Job) -> None:
    """However the job ended, the turn stops generating (see `fail_unfinished`)."""
    turn = session.get(ChatTurn, int(job.params["turn_id"]))
    if turn is None or turn.job_id != job.id:
        return
    fail_unfinished(turn, job.error or f"the job was {job.status}")
