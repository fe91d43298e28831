"""The four modes: what each asks the endpoint for one task, and what it makes of the answers.

`build_item` turns a task into calls (chat-completion bodies); `interpret` turns the answers into a
suggestion's result, or raises BadOutput, which the job records as that item's error. Structured answers
use a strict `json_schema` response format; results always name responses by id, never by position."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.core.errors import InvalidInput
from app.imports.shapes import RESERVED_RESPONSE_IDS
from app.kinds import KindBase
from app.kinds.forms import LETTERS
from app.prelabel.endpoint import cache_key
from app.prelabel.images import text_chars, with_images
from app.prelabel.prompts import Compiled, prompt_text
from app.prelabel.redact import Redactor
from app.prelabel.schemas import LlmSettings


class BadOutput(Exception):
    """The endpoint answered, but not with something usable: recorded as the item's error."""


class Skip(Exception):
    """The task does not fit the mode (a judge needs two responses…): counted, not sent."""


@dataclass(slots=True)
class Call:
    body: dict[str, Any]
    key: str
    estimate_in: int
    cached: dict[str, Any] | None = None  # {"content", "tokens_in", "tokens_out"} from the cache
    payload: bytes = b""  # the body as JSON, encoded where tasks are read rather than on the event loop


@dataclass(slots=True)
class Item:
    task_id: int
    mode: str
    model: str
    calls: list[Call]
    orders: list[list[str]] = field(default_factory=list)  # judge: response ids as shown, per call
    labels: list[str] = field(default_factory=list)
    multi_label: bool = False
    slots: list[str] = field(default_factory=list)  # generate: the response ids its answers will take
    base: int = 0  # generate: how many responses the task had when the job asked


@dataclass(slots=True)
class TaskView:
    id: int
    prompt: Any
    responses: list[dict[str, Any]]
    meta: dict[str, Any]
    external_id: str | None


@dataclass(slots=True)
class Plan:
    """Everything a job needs to turn tasks into calls; built once per job."""

    mode: str
    settings: LlmSettings
    template: Compiled
    project_settings: dict[str, Any]
    instructions: str
    kind: KindBase  # the project's: what its label and judge requests ask for
    temperature: float
    models: list[str]
    target: int  # generate: responses a task should end with
    redactor: Redactor


def _schema(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": name,
            "strict": True,
            "schema": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
        },
    }


def _context(plan: Plan, task: TaskView, responses: list[dict[str, Any]]) -> dict[str, Any]:
    prompt = plan.redactor.prompt(task.prompt)
    s = plan.project_settings
    return {
        "prompt_text": prompt_text(prompt),
        "messages": prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}],
        "responses": [
            {"label": LETTERS[i], "id": r["id"], "text": r["text"], "model": r.get("model")}
            for i, r in enumerate(plan.redactor.responses(responses))
        ],
        "labels": list(s.get("labels") or []),
        "multi_label": bool(s.get("multi_label")),
        "allow_ties": bool(s.get("allow_ties", True)),
        "criteria": list(s.get("criteria") or []),
        "instructions": plan.instructions,
        "meta": task.meta or {},
        "external_id": task.external_id,
    }


def _call(
    plan: Plan, model: str, messages: list[dict[str, Any]], task: TaskView | None = None, **extra: Any
) -> Call:
    if task is not None and plan.settings.images:  # a model that sees: the task's images go with it
        messages = with_images(messages, task.meta)
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": plan.temperature,
        "max_tokens": plan.settings.max_tokens,
        **extra,
    }
    chars = text_chars(messages)
    payload = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)  # sorted: the same bytes key the cache
    return Call(
        body=body,
        key=cache_key(plan.settings.base_url, payload),
        estimate_in=chars // 3 + 16,
        payload=payload,
    )


def _chat(system: str, user: str) -> list[dict[str, Any]]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]


def _conversation(plan: Plan, task: TaskView, context: dict[str, Any]) -> list[dict[str, Any]]:
    """generate / draft: a chat prompt is sent as its own conversation; plain text through the template."""
    system, user = plan.template.render(context)
    if isinstance(task.prompt, list):
        messages = [{"role": m["role"], "content": m["content"]} for m in context["messages"]]
        if system and not any(m["role"] == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": system})
        return messages
    return _chat(system, user)


def build_items(plan: Plan, task: TaskView) -> list[Item]:
    """The calls one task needs (several items for generate: one per model); Skip when none fit."""
    mode, model = plan.mode, plan.settings.model
    if mode == "label":
        labels = list(plan.project_settings.get("labels") or [])
        multi = bool(plan.project_settings.get("multi_label"))
        fmt = _schema("label", plan.kind.label_schema(plan.project_settings))
        system, user = plan.template.render(_context(plan, task, task.responses))
        call = _call(plan, model, _chat(system, user), task, response_format=fmt)
        return [Item(task.id, mode, model, [call], labels=labels, multi_label=multi)]
    if mode == "judge":
        responses = plan.kind.judged_responses(task.responses)
        if len(responses) < 2:
            raise Skip("fewer than two responses")
        letters = list(LETTERS[: len(responses)])
        fmt = _schema("judgement", plan.kind.judge_schema(plan.project_settings, letters))
        calls, orders = [], []
        for shown in (responses, list(reversed(responses))):  # both orders cancel position bias
            system, user = plan.template.render(_context(plan, task, shown))
            calls.append(_call(plan, model, _chat(system, user), task, response_format=fmt))
            orders.append([str(r["id"]) for r in shown])
        return [Item(task.id, mode, model, calls, orders=orders)]
    if mode == "draft":
        messages = _conversation(plan, task, _context(plan, task, task.responses))
        return [Item(task.id, mode, model, [_call(plan, model, messages, task)])]
    if mode == "generate":
        missing = plan.target - len(task.responses)
        if missing <= 0:
            raise Skip("already has enough responses")
        messages = _conversation(plan, task, _context(plan, task, task.responses))
        free = free_ids({str(r["id"]) for r in task.responses})
        by_model: dict[str, Item] = {}
        for j in range(missing):  # round-robin over the models; the seed tells candidates apart
            name = plan.models[j % len(plan.models)]
            item = by_model.setdefault(name, Item(task.id, mode, name, [], base=len(task.responses)))
            item.calls.append(_call(plan, name, messages, task, seed=len(task.responses) + j))
            item.slots.append(next(free))  # fixed here, so ids do not depend on which answer comes first
        return list(by_model.values())
    raise InvalidInput(f"unknown mode {mode}")


def free_ids(used: set[str]) -> Iterator[str]:
    """Response ids as imports give them (a, b, c …, then r1, r2 …), skipping those in use."""
    for rid in (*"abcdefghijklmnopqrstuvwxyz", *(f"r{n}" for n in range(1, 10_000))):
        if rid not in used and rid not in RESERVED_RESPONSE_IDS:
            yield rid


def _json(content: str) -> dict[str, Any]:
    text = content.strip()
    if text.startswith("```"):  # some servers fence JSON even when asked for a schema
        text = text.strip("`").removeprefix("json").strip()
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BadOutput(f"the answer is not JSON: {content[:120]!r}") from None
    if not isinstance(value, dict):
        raise BadOutput(f"the answer is not a JSON object: {content[:120]!r}")
    return value


def _confidence(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return round(min(max(float(value), 0.0), 1.0), 4)


def _label(item: Item, content: str) -> dict[str, Any]:
    data = _json(content)
    raw = data.get("labels") if item.multi_label else data.get("label", data.get("labels"))
    labels = raw if isinstance(raw, list) else [raw]
    if not labels or not all(isinstance(x, str) for x in labels):
        raise BadOutput(f"no label in the answer: {content[:120]!r}")
    unknown = [x for x in labels if x not in item.labels]
    if unknown:
        raise BadOutput(f"label(s) {unknown} are not the project's {item.labels}")
    if not item.multi_label and len(labels) != 1:
        raise BadOutput("the project takes exactly one label")
    return {"labels": list(dict.fromkeys(labels)), "confidence": _confidence(data.get("confidence")) or 0.0}


def _pick(order: list[str], data: dict[str, Any], content: str) -> str:
    choice = data.get("choice")
    if choice == "tie":
        return "tie"
    if not isinstance(choice, str) or choice not in LETTERS[: len(order)]:
        raise BadOutput(f"the judge's choice {choice!r} names no response")
    return order[LETTERS.index(choice)]


def _rank(order: list[str], data: dict[str, Any]) -> list[str]:
    ranking = data.get("ranking")
    letters = list(LETTERS[: len(order)])
    if not isinstance(ranking, list) or sorted(map(str, ranking)) != letters:
        raise BadOutput(f"the judge's ranking {ranking!r} does not name every response once")
    return [order[LETTERS.index(x)] for x in ranking]


def _judge(item: Item, contents: list[str]) -> dict[str, Any]:
    answers = [_json(c) for c in contents]
    rationales = [str(a.get("rationale") or "").strip() for a in answers]
    confidences = [_confidence(a.get("confidence")) for a in answers]
    if len(item.orders[0]) == 2:
        picks = [_pick(order, a, c) for order, a, c in zip(item.orders, answers, contents, strict=True)]
        agree = picks[0] == picks[1]
        result: dict[str, Any] = {"choice": picks[0] if agree else "tie"}
    else:
        rankings = [_rank(order, a) for order, a in zip(item.orders, answers, strict=True)]
        agree = rankings[0] == rankings[1]
        # Borda over the two orders; the first order breaks ties
        points = {rid: rankings[0].index(rid) + rankings[1].index(rid) for rid in rankings[0]}
        combined = sorted(rankings[0], key=lambda rid: points[rid])
        result = {"choice": combined[0], "ranking": combined}
    if agree:
        rationale = rationales[0]
        known = [c for c in confidences if c is not None]
        confidence = round(sum(known) / len(known), 4) if known else None
    else:
        rationale = f"Shown in one order: {rationales[0]}\nShown swapped: {rationales[1]}"
        confidence = None
    return {**result, "rationale": rationale, "orders_agree": agree, "confidence": confidence}


def interpret(item: Item, contents: list[str]) -> dict[str, Any]:
    """The suggestion's result from the answers, one per call (generate: the texts, turned into
    response ids when the job adds them to the task)."""
    if item.mode == "label":
        return _label(item, contents[0])
    if item.mode == "judge":
        return _judge(item, contents)
    texts = [c.strip() for c in contents]
    if not all(texts):
        raise BadOutput("the endpoint answered with empty text")
    if item.mode == "draft":
        return {"response": texts[0]}
    return {"texts": texts}
