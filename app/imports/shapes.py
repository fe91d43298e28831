"""Row shapes accepted by imports (DESIGN §10 "Tasks") and their normalisation into `TaskRow`.

`normalize_row` is called once per imported row (up to millions per import), so it works on plain
dicts with cheap checks and builds only what the task needs. Every refusal is a `RowError` whose text
says what was wrong and what to do; the caller adds the line number.

Shapes, tried in this order:

* Label Studio task `{"data": {...}, "id"?, "annotations"?, ...}` (or, with an explicit mapping, a flat
  row holding the mapped prompt field)
* ShareGPT `{"conversations": [{"from", "value"}], "system"?, "chosen"?, "rejected"?}`
* Alpaca `{"instruction", "input"?, "output" | "chosen" + "rejected", "system"?, "history"?}`
* pairwise `{"prompt"?, "chosen", "rejected"}`: strings, TRL conversational message lists,
  implicit-prompt conversations, or HH-RLHF transcripts
* `{"messages", "label"?}` (chat / KTO)
* `{"prompt", "completion", "label"?}` (prompt-completion / KTO)
* canonical `{"prompt", "responses"?}`, which also takes CSV-style `response_<id>` / `model_<id>` columns

Every shape may also carry `external_id`, `meta`, `priority` and `gold`; keys a shape does not consume
are kept in `meta` (Label Studio bookkeeping keys excepted).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

MAX_RESPONSES = 20
PRIORITY_MIN = -(2**31)
PRIORITY_MAX = 2**31 - 1
ROLES = frozenset({"system", "user", "assistant"})
RESERVED_RESPONSE_IDS = frozenset({"tie"})  # "tie" is a pairwise answer, never a response id

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_COMMON = frozenset({"external_id", "meta", "priority", "gold"})
_RESPONSE_KEYS = frozenset({"id", "text", "model"})
_LS_PROMPT_KEYS = ("prompt", "text", "question")
_SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
}
_SHAPES_HELP = (
    'canonical {"prompt", "responses"?}, {"prompt", "chosen", "rejected"}, '
    'HH-RLHF {"chosen", "rejected"} transcripts, {"messages"}, {"prompt", "completion"}, '
    'ShareGPT {"conversations"}, Alpaca {"instruction", "output"}, Label Studio {"data"}, '
    "or CSV columns prompt, response_a, response_b"
)
_MAPPING_HELP = "write it as prompt:FIELD,responses:FIELD1|FIELD2"


@dataclass(slots=True)
class TaskRow:
    external_id: str | None
    prompt: str | list[dict[str, str]]
    responses: list[dict[str, Any]]
    meta: dict[str, Any]
    priority: int = 0
    gold: Any | None = None


class RowError(ValueError):
    """A row that cannot become a task; str(err) is a human message saying what was wrong and what to do."""


class CsvRow(dict[str, str]):
    """A row read from a CSV file: every value is a string and an empty cell means "absent".

    `read_rows` yields these for CSV input so that `normalize_row` can parse `priority` and `meta`
    cells and treat empty cells as missing; JSON rows stay strict.
    """

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ImportMapping:
    """Label Studio data-key mapping, from "?map=prompt:question,responses:answer1|answer2"."""

    prompt: str | None
    responses: tuple[str, ...]


# --------------------------------------------------------------------------------------------- helpers


def _kind(value: Any) -> str:
    """How a found value is described in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string" if value and not value.isspace() else "an empty string"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any, limit: int = 40) -> str:
    """A short JSON rendering of a found value, for messages."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _keys(raw: dict[str, Any], limit: int = 12) -> str:
    names = [f'"{k}"' for k in list(raw)[:limit]]
    if len(raw) > limit:
        names.append(f"… ({len(raw)} keys)")
    return ", ".join(names) if names else "none"


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not value.isspace()


def _text(value: Any, what: str) -> str:
    if isinstance(value, str) and value and not value.isspace():
        return value
    raise RowError(f"{what} must be a non-empty string, got {_kind(value)}")


def _content(value: Any, what: str) -> str:
    """Message content: a string, or OpenAI-style text parts joined by newlines."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        parts: list[str] = []
        for part in value:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                raise RowError(f"{what} content may only hold text parts; convert other parts to text")
        return "\n".join(parts)
    raise RowError(f'{what} "content" must be a string, got {_kind(value)}')


def _messages(value: Any, what: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise RowError(
            f'{what} must be a non-empty list of chat messages {{"role", "content"}}, got {_kind(value)}'
        )
    out: list[dict[str, str]] = []
    for i, message in enumerate(value, 1):
        where = f"{what} message {i}"
        if not isinstance(message, dict):
            raise RowError(f'{where} must be an object {{"role", "content"}}, got {_kind(message)}')
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise RowError(f'{where} has role {_show(role)}; role must be "system", "user" or "assistant"')
        out.append({"role": role, "content": _content(message.get("content"), where)})
    return out


def _prompt(value: Any, what: str = '"prompt"') -> str | list[dict[str, str]]:
    if isinstance(value, str):
        if value and not value.isspace():
            return value
    elif isinstance(value, list) and value:
        return _messages(value, what)
    raise RowError(f"{what} must be a non-empty string or a list of chat messages, got {_kind(value)}")


def _free_ids(used: set[str]) -> Iterator[str]:
    for letter in _LETTERS:
        if letter not in used:
            yield letter
    n = len(_LETTERS)
    while True:
        n += 1
        if f"r{n}" not in used:
            yield f"r{n}"


def _response_id(value: Any, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value or value.isspace():
        raise RowError(f"{what} must be a non-empty string, got {_kind(value)}")
    if value in RESERVED_RESPONSE_IDS:
        raise RowError(f'{what} "{value}" is reserved (it means a tie); use another id')
    return value


def _check_count(n: int) -> None:
    if n > MAX_RESPONSES:
        raise RowError(
            f"a row may have at most {MAX_RESPONSES} responses, found {n}; split it into several rows"
        )


def _responses(value: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Canonical `responses`: objects `{"id"?, "text", "model"?}` or plain strings.

    Returns the responses and, when response objects carried other keys, those keys by response id
    (kept in `meta["response_meta"]` so nothing is lost).
    """
    if not isinstance(value, list):
        raise RowError(
            '"responses" must be a list of {"id"?, "text", "model"?} objects or a list of strings, '
            f"got {_kind(value)}"
        )
    _check_count(len(value))
    used: set[str] = set()
    responses: list[dict[str, Any]] = []
    response_meta: dict[str, Any] | None = None
    unnamed = False
    for i, item in enumerate(value, 1):
        if isinstance(item, str):
            if not item or item.isspace():
                raise RowError(f'"responses" item {i} must be a non-empty string, got {_kind(item)}')
            responses.append({"id": None, "text": item, "model": None})
            unnamed = True
            continue
        if not isinstance(item, dict):
            raise RowError(
                f'"responses" item {i} must be a string or an object {{"id"?, "text", "model"?}}, '
                f"got {_kind(item)}"
            )
        text = item.get("text")
        if not isinstance(text, str) or not text or text.isspace():
            raise RowError(f'"responses" item {i} "text" must be a non-empty string, got {_kind(text)}')
        rid = item.get("id")
        if rid is None:
            unnamed = True
        else:
            if type(rid) is not str or not rid or rid in RESERVED_RESPONSE_IDS or rid.isspace():
                rid = _response_id(rid, f'"responses" item {i} "id"')
            if rid in used:
                raise RowError(
                    f'"responses" item {i} repeats the id "{rid}"; response ids must be unique within a row'
                )
            used.add(rid)
        model = item.get("model")
        if model is not None and not isinstance(model, str):
            raise RowError(f'"responses" item {i} "model" must be a string, got {_kind(model)}')
        response = {"id": rid, "text": text, "model": model or None}
        responses.append(response)
        if not item.keys() <= _RESPONSE_KEYS:
            if response_meta is None:
                response_meta = {}
            # keyed by position until ids are final
            response_meta[str(i)] = {k: v for k, v in item.items() if k not in _RESPONSE_KEYS}
    if unnamed:
        if used:
            fresh = _free_ids(used)
            for response in responses:
                if response["id"] is None:
                    response["id"] = next(fresh)
        else:
            for response, letter in zip(responses, _LETTERS, strict=False):
                response["id"] = letter
    if response_meta is not None:
        response_meta = {responses[int(pos) - 1]["id"]: extras for pos, extras in response_meta.items()}
    return responses, response_meta


def _lettered(texts: list[str]) -> list[dict[str, Any]]:
    _check_count(len(texts))
    return [{"id": rid, "text": t, "model": None} for rid, t in zip(_free_ids(set()), texts, strict=False)]


def _pair(chosen: str, rejected: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Two responses "a"/"b" from a recorded preference, with the side of "chosen" decided by a hash of
    the content (so position carries no signal), and the preference kept for `meta`."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(chosen.encode("utf-8", "surrogatepass"))
    digest.update(b"\x00")
    digest.update(rejected.encode("utf-8", "surrogatepass"))
    if digest.digest()[0] & 1:
        responses = [{"id": "a", "text": rejected, "model": None}, {"id": "b", "text": chosen, "model": None}]
        preference = {"chosen": "b", "rejected": "a"}
    else:
        responses = [{"id": "a", "text": chosen, "model": None}, {"id": "b", "text": rejected, "model": None}]
        preference = {"chosen": "a", "rejected": "b"}
    return responses, {"source_preference": preference}


def _final_reply(messages: list[dict[str, str]], what: str) -> str:
    last = messages[-1]
    if last["role"] != "assistant":
        raise RowError(f"{what} must end with an assistant message, but its last message is {last['role']}")
    if not last["content"] or last["content"].isspace():
        raise RowError(f"the final assistant message of {what} is empty")
    return last["content"]


def _shared_prompt(
    chosen: list[dict[str, str]], rejected: list[dict[str, str]], what: str
) -> list[dict[str, str]]:
    """The conversation both sides share before their final assistant reply."""
    prefix = chosen[:-1]
    if prefix != rejected[:-1]:
        at = next(
            (i for i, (c, r) in enumerate(zip(chosen, rejected, strict=False), 1) if c != r),
            min(len(chosen), len(rejected)),
        )
        raise RowError(
            f'{what}: "chosen" and "rejected" must be the same conversation up to their final assistant '
            f'reply, but they differ at turn {at}; give the prompt separately in "prompt"'
        )
    if not prefix:
        raise RowError(
            f'{what}: "chosen" and "rejected" hold only the reply; add a "prompt" field '
            "or start both conversations with the user turn"
        )
    return prefix


def _hh_turns(text: str, what: str) -> list[dict[str, str]]:
    """Turns of an HH-RLHF transcript "\\n\\nHuman: …\\n\\nAssistant: …"."""
    if text.startswith(("Human:", "Assistant:")):
        text = "\n\n" + text
    messages: list[dict[str, str]] = []
    human = text.find("\n\nHuman:")
    assistant = text.find("\n\nAssistant:")
    role = ""
    start = 0
    while human >= 0 or assistant >= 0:
        if assistant < 0 or 0 <= human < assistant:
            at, next_role, start_next = human, "user", human + 8
            human = text.find("\n\nHuman:", start_next)
        else:
            at, next_role, start_next = assistant, "assistant", assistant + 12
            assistant = text.find("\n\nAssistant:", start_next)
        chunk = text[start:at].strip()
        if role:
            messages.append({"role": role, "content": chunk})
        elif chunk:
            messages.append({"role": "system", "content": chunk})
        role, start = next_role, start_next
    if not role:
        raise RowError(f'{what} must be an HH-RLHF transcript "\\n\\nHuman: …\\n\\nAssistant: …"')
    messages.append({"role": role, "content": text[start:].strip()})
    return messages


def _is_hh(value: Any) -> bool:
    return isinstance(value, str) and ("\n\nHuman:" in value or value.startswith("Human:"))


def _label(value: Any) -> dict[str, Any]:
    if not isinstance(value, bool):
        raise RowError(f'"label" must be true or false, got {_kind(value)}')
    return {"source_label": value}


def _parse_int(value: str, what: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise RowError(f"{what} must be an integer, got {_show(value)}") from None


def _finish(
    raw: dict[str, Any],
    consumed: frozenset[str] | set[str],
    prompt: str | list[dict[str, str]],
    responses: list[dict[str, Any]],
    add: dict[str, Any] | None = None,
    *,
    csv_row: bool | None = None,
) -> TaskRow:
    """Common keys (external_id, meta, priority, gold), unconsumed keys into meta, and the TaskRow."""
    if csv_row is None:
        csv_row = type(raw) is CsvRow
    external_id = raw.get("external_id")
    if external_id is not None:
        if isinstance(external_id, int) and not isinstance(external_id, bool):
            external_id = str(external_id)
        elif not isinstance(external_id, str):
            raise RowError(f'"external_id" must be a string or an integer, got {_kind(external_id)}')
        elif not external_id or external_id.isspace():
            if not csv_row:
                raise RowError('"external_id" must be a non-empty string; leave it out to have none')
            external_id = None

    meta_value = raw.get("meta")
    if meta_value is None:
        meta: dict[str, Any] = {}
    elif isinstance(meta_value, dict):
        meta = dict(meta_value)
    elif csv_row and isinstance(meta_value, str):
        meta = {}
        if meta_value.strip():
            try:
                parsed = orjson.loads(meta_value)
            except orjson.JSONDecodeError:
                parsed = None
            if not isinstance(parsed, dict):
                raise RowError('the "meta" column must hold a JSON object such as {"source": "x"}')
            meta = parsed
    else:
        raise RowError(f'"meta" must be a JSON object, got {_kind(meta_value)}')

    for key, value in raw.items():
        if key not in consumed and key not in _COMMON and key not in meta:
            meta[key] = value
    if add:
        meta.update(add)

    priority = raw.get("priority", 0)
    if priority is None:
        priority = 0
    elif csv_row and isinstance(priority, str):
        priority = _parse_int(priority, '"priority"') if priority.strip() else 0
    elif not isinstance(priority, int) or isinstance(priority, bool):
        raise RowError(f'"priority" must be an integer, got {_kind(priority)}')
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise RowError(f'"priority" must be between {PRIORITY_MIN} and {PRIORITY_MAX}, got {priority}')

    gold = raw.get("gold")
    if csv_row and gold == "":
        gold = None
    return TaskRow(external_id, prompt, responses, meta, priority, gold)


def _with_response_meta(
    add: dict[str, Any] | None, response_meta: dict[str, Any] | None
) -> dict[str, Any] | None:
    if response_meta is None:
        return add
    out = dict(add) if add else {}
    out["response_meta"] = response_meta
    return out


# --------------------------------------------------------------------------------------------- shapes

_CANONICAL_KEYS = frozenset({"prompt", "responses"})
_PAIR_KEYS = frozenset({"prompt", "chosen", "rejected"})
_MESSAGES_KEYS = frozenset({"messages", "label"})
_COMPLETION_KEYS = frozenset({"prompt", "completion", "label"})
_SHAREGPT_KEYS = frozenset({"conversations", "system", "chosen", "rejected"})
_ALPACA_KEYS = frozenset({"instruction", "input", "output", "system", "history", "chosen", "rejected"})


def _canonical(raw: dict[str, Any]) -> TaskRow:
    prompt = _prompt(raw["prompt"])
    value = raw.get("responses")
    if value == "" and type(raw) is CsvRow:
        value = None
    if value is not None:
        responses, response_meta = _responses(value)
        return _finish(raw, _CANONICAL_KEYS, prompt, responses, _with_response_meta(None, response_meta))
    # CSV-style columns response_<id> (and model_<id>); empty cells are ignored.
    consumed = {"prompt", "responses"}
    responses = []
    for key, text in raw.items():
        if key.startswith("response_"):
            consumed.add(key)
            consumed.add("model_" + key[9:])
            if text is None or text == "":
                continue
            rid = _response_id(key[9:], f'column "{key}" id')
            model = raw.get("model_" + rid)
            if model is not None and not isinstance(model, str):
                raise RowError(f'"model_{rid}" must be a string, got {_kind(model)}')
            responses.append({"id": rid, "text": _text(text, f'"{key}"'), "model": model or None})
    _check_count(len(responses))
    return _finish(raw, consumed, prompt, responses)


def _pairwise(raw: dict[str, Any]) -> TaskRow:
    if "chosen" not in raw or "rejected" not in raw:
        missing = "rejected" if "chosen" in raw else "chosen"
        raise RowError(f'a row with "chosen" or "rejected" needs both; "{missing}" is missing')
    chosen, rejected = raw["chosen"], raw["rejected"]
    prompt: str | list[dict[str, str]]
    if "prompt" in raw:
        prompt = _prompt(raw["prompt"])
        chosen_text = _side(chosen, '"chosen"')
        rejected_text = _side(rejected, '"rejected"')
    elif _is_hh(chosen) and isinstance(rejected, str):
        chosen_turns = _hh_turns(chosen, '"chosen"')
        rejected_turns = _hh_turns(rejected, '"rejected"')
        chosen_text = _final_reply(chosen_turns, 'the "chosen" transcript')
        rejected_text = _final_reply(rejected_turns, 'the "rejected" transcript')
        prompt = _shared_prompt(chosen_turns, rejected_turns, "HH-RLHF transcripts")
    elif isinstance(chosen, list) and isinstance(rejected, list):
        chosen_msgs = _messages(chosen, '"chosen"')
        rejected_msgs = _messages(rejected, '"rejected"')
        chosen_text = _final_reply(chosen_msgs, '"chosen"')
        rejected_text = _final_reply(rejected_msgs, '"rejected"')
        prompt = _shared_prompt(chosen_msgs, rejected_msgs, "conversations")
    else:
        raise RowError(
            'a row with "chosen" and "rejected" but no "prompt" must hold HH-RLHF transcripts '
            '("\\n\\nHuman: …\\n\\nAssistant: …") or full chat conversations; otherwise add a "prompt" field'
        )
    responses, add = _pair(chosen_text, rejected_text)
    return _finish(raw, _PAIR_KEYS, prompt, responses, add)


def _side(value: Any, what: str) -> str:
    """One side of a prompt/chosen/rejected row: a string, or messages ending with the assistant reply."""
    if isinstance(value, str):
        return _text(value, what)
    if isinstance(value, list):
        return _final_reply(_messages(value, what), what)
    raise RowError(f"{what} must be a non-empty string or a list of chat messages, got {_kind(value)}")


def _chat(raw: dict[str, Any]) -> TaskRow:
    messages = _messages(raw["messages"], '"messages"')
    responses: list[dict[str, Any]] = []
    if messages[-1]["role"] == "assistant":
        responses = [{"id": "a", "text": _final_reply(messages, '"messages"'), "model": None}]
        messages = messages[:-1]
        if not messages:
            raise RowError('"messages" needs at least one message before the final assistant reply')
    add = _label(raw["label"]) if "label" in raw else None
    return _finish(raw, _MESSAGES_KEYS, messages, responses, add)


def _completion(raw: dict[str, Any]) -> TaskRow:
    prompt = _prompt(raw["prompt"])
    text = _side(raw["completion"], '"completion"')
    add = _label(raw["label"]) if "label" in raw else None
    return _finish(raw, _COMPLETION_KEYS, prompt, [{"id": "a", "text": text, "model": None}], add)


def _sharegpt_turn(turn: Any, where: str) -> dict[str, str]:
    if not isinstance(turn, dict):
        raise RowError(f'{where} must be an object {{"from", "value"}}, got {_kind(turn)}')
    source = turn.get("from", turn.get("role"))
    role = _SHAREGPT_ROLES.get(source) if isinstance(source, str) else None
    if role is None:
        raise RowError(f'{where} has "from" {_show(source)}; "from" must be "system", "human" or "gpt"')
    value = turn.get("value", turn.get("content"))
    if not isinstance(value, str):
        raise RowError(f'{where} "value" must be a string, got {_kind(value)}')
    return {"role": role, "content": value}


def _sharegpt(raw: dict[str, Any]) -> TaskRow:
    conversations = raw["conversations"]
    if not isinstance(conversations, list) or not conversations:
        raise RowError(
            '"conversations" must be a non-empty list of {"from", "value"} turns, '
            f"got {_kind(conversations)}"
        )
    messages = [_sharegpt_turn(t, f'"conversations" turn {i}') for i, t in enumerate(conversations, 1)]
    system = raw.get("system")
    if system is not None and system != "" and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": _text(system, '"system"')})
    add: dict[str, Any] | None = None
    if "chosen" in raw or "rejected" in raw:
        if "chosen" not in raw or "rejected" not in raw:
            raise RowError('a ShareGPT row with "chosen" or "rejected" needs both')
        sides: list[str] = []
        for name in ("chosen", "rejected"):
            value = raw[name]
            if isinstance(value, dict):
                turn = _sharegpt_turn(value, f'"{name}"')
                if turn["role"] != "assistant":
                    raise RowError(f'"{name}" must be a "gpt" turn, got "from" {_show(value.get("from"))}')
                sides.append(_text(turn["content"], f'"{name}" "value"'))
            else:
                sides.append(_text(value, f'"{name}"'))
        responses, add = _pair(sides[0], sides[1])
    elif messages[-1]["role"] == "assistant":
        responses = [{"id": "a", "text": _final_reply(messages, '"conversations"'), "model": None}]
        messages = messages[:-1]
        if not messages:
            raise RowError('"conversations" needs at least one turn before the final "gpt" turn')
    else:
        responses = []
    return _finish(raw, _SHAREGPT_KEYS, messages, responses, add)


def _alpaca(raw: dict[str, Any]) -> TaskRow:
    instruction = _text(raw["instruction"], '"instruction"')
    extra = raw.get("input")
    if extra is not None and not isinstance(extra, str):
        raise RowError(f'"input" must be a string, got {_kind(extra)}')
    user = f"{instruction}\n\n{extra}" if extra and not extra.isspace() else instruction
    prompt: str | list[dict[str, str]] = user
    system = raw.get("system")
    history = raw.get("history")
    if (system is not None and system != "") or history:
        messages: list[dict[str, str]] = []
        if system is not None and system != "":
            messages.append({"role": "system", "content": _text(system, '"system"')})
        if history:
            if not isinstance(history, list):
                raise RowError(
                    f'"history" must be a list of [instruction, response] pairs, got {_kind(history)}'
                )
            for i, pair in enumerate(history, 1):
                if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
                    raise RowError(f'"history" item {i} must be a pair of strings [instruction, response]')
                messages.append({"role": "user", "content": pair[0]})
                messages.append({"role": "assistant", "content": pair[1]})
        messages.append({"role": "user", "content": user})
        prompt = messages
    add: dict[str, Any] | None = None
    if "chosen" in raw or "rejected" in raw:
        if "chosen" not in raw or "rejected" not in raw:
            raise RowError('an Alpaca row with "chosen" or "rejected" needs both')
        responses, add = _pair(_text(raw["chosen"], '"chosen"'), _text(raw["rejected"], '"rejected"'))
    elif "output" in raw:
        responses = [{"id": "a", "text": _text(raw["output"], '"output"'), "model": None}]
    else:
        responses = []
    return _finish(raw, _ALPACA_KEYS, prompt, responses, add)


def _from_data(
    raw: dict[str, Any], data: dict[str, Any], mapping: ImportMapping | None, label_studio: bool
) -> TaskRow:
    """Label Studio `data` (or, with a mapping, a flat row) mapped to prompt and responses."""
    where = 'Label Studio "data"' if label_studio else "the row"
    if mapping is not None and mapping.prompt is not None:
        prompt_key = mapping.prompt
        if prompt_key not in data:
            raise RowError(
                f'{where} has no "{prompt_key}" field named by the mapping prompt:{prompt_key}; '
                f"keys found: {_keys(data)}"
            )
    else:
        found = next((k for k in _LS_PROMPT_KEYS if k in data), None)
        if found is None:
            raise RowError(
                f'{where} has no prompt field: expected "prompt", "text" or "question" (keys found: '
                f"{_keys(data)}); or pass a mapping such as ?map=prompt:FIELD,responses:FIELD1|FIELD2"
            )
        prompt_key = found
    prompt = _prompt(data[prompt_key], f'{where} "{prompt_key}"')

    used = {prompt_key, "external_id"}
    fields: list[str] = []
    texts: list[str] = []
    if mapping is not None and mapping.responses:
        for key in mapping.responses:
            used.add(key)
            value = data.get(key)
            if value is None or value == "":
                continue
            texts.append(_text(value, f'{where} "{key}"'))
            fields.append(key)
    else:
        for key, value in data.items():
            if key not in used and _is_text(value):
                texts.append(value)
                fields.append(key)
        used.update(fields)
    responses = _lettered(texts)

    add: dict[str, Any] = {}
    for key, value in data.items():
        if key not in used:
            add[key] = value
    if label_studio and "id" in raw:
        add["label_studio_id"] = raw["id"]
    if fields:
        add["source_fields"] = {r["id"]: f for r, f in zip(responses, fields, strict=True)}
    common = {k: raw[k] for k in _COMMON if k in raw}
    if "external_id" not in common and "external_id" in data:
        common["external_id"] = data["external_id"]
    return _finish(common, _CANONICAL_KEYS, prompt, responses, add, csv_row=type(raw) is CsvRow)


# --------------------------------------------------------------------------------------------- public


def parse_mapping(spec: str | None) -> ImportMapping | None:
    """Parse "prompt:question,responses:answer1|answer2"; None or an empty spec means no mapping.

    A field may be written with Label Studio's "$" ("prompt:$question").
    """
    if spec is None or not spec.strip():
        return None
    prompt: str | None = None
    responses: tuple[str, ...] = ()
    seen: set[str] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition(":")
        key = key.strip().lower()
        if not sep:
            raise RowError(f'mapping part "{part}" has no ":"; {_MAPPING_HELP}')
        if key not in ("prompt", "responses"):
            raise RowError(
                f'mapping key "{key}" is unknown: only "prompt" and "responses" can be mapped; '
                + _MAPPING_HELP
            )
        if key in seen:
            raise RowError(f'mapping names "{key}" twice; {_MAPPING_HELP}')
        seen.add(key)
        names = [n.strip().removeprefix("$").strip() for n in value.split("|")]
        if not names or any(not n for n in names):
            raise RowError(f'mapping "{key}" names an empty field; {_MAPPING_HELP}')
        if key == "prompt":
            if len(names) != 1:
                raise RowError(f"mapping prompt must name exactly one field; {_MAPPING_HELP}")
            prompt = names[0]
        else:
            if len(set(names)) != len(names):
                raise RowError("mapping responses names a field twice")
            if len(names) > MAX_RESPONSES:
                raise RowError(
                    f"mapping responses names {len(names)} fields; at most {MAX_RESPONSES} are allowed"
                )
            responses = tuple(names)
    if not seen:
        return None
    if prompt is not None and prompt in responses:
        raise RowError(f'mapping uses "{prompt}" both as the prompt and as a response')
    return ImportMapping(prompt=prompt, responses=responses)


def normalize_row(raw: Any, *, mapping: ImportMapping | None = None) -> TaskRow:
    """Turn one imported row of any accepted shape into a TaskRow; raise RowError when it cannot be one."""
    if not isinstance(raw, dict):
        raise RowError(f"each row must be a JSON object, got {_kind(raw)}")
    data = raw.get("data")
    if (
        isinstance(data, dict)
        and "prompt" not in raw
        and "messages" not in raw
        and "conversations" not in raw
        and "instruction" not in raw
        and "chosen" not in raw
    ):
        return _from_data(raw, data, mapping, label_studio=True)
    if mapping is not None and mapping.prompt is not None and mapping.prompt in raw and "data" not in raw:
        flat = {k: v for k, v in raw.items() if k not in _COMMON}
        return _from_data(raw, flat, mapping, label_studio=False)
    if "conversations" in raw:
        return _sharegpt(raw)
    if "instruction" in raw:
        return _alpaca(raw)
    if "chosen" in raw or "rejected" in raw:
        return _pairwise(raw)
    if "messages" in raw:
        return _chat(raw)
    if "prompt" in raw:
        if "completion" in raw:
            return _completion(raw)
        return _canonical(raw)
    raise RowError(
        f"the row matches no accepted shape (keys found: {_keys(raw)}); accepted shapes: {_SHAPES_HELP}"
    )
