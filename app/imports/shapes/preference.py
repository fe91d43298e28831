"""Recorded preferences `{"prompt"?, "chosen", "rejected"}`: strings, TRL conversational message lists,
implicit-prompt conversations, or HH-RLHF transcripts."""

from __future__ import annotations

import hashlib
from typing import Any

from app.imports.shapes.rows import (
    RowError,
    TaskRow,
    chat_messages,
    described,
    final_reply,
    finish_row,
    prompt_of,
    required_text,
)

_PAIR_KEYS = frozenset({"prompt", "chosen", "rejected"})


def preference_pair(chosen: str, rejected: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
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


def preference_row(raw: dict[str, Any]) -> TaskRow:
    if "chosen" not in raw or "rejected" not in raw:
        missing = "rejected" if "chosen" in raw else "chosen"
        raise RowError(f'a row with "chosen" or "rejected" needs both; "{missing}" is missing')
    chosen, rejected = raw["chosen"], raw["rejected"]
    prompt: str | list[dict[str, str]]
    if "prompt" in raw:
        prompt = prompt_of(raw["prompt"])
        chosen_text = side_text(chosen, '"chosen"')
        rejected_text = side_text(rejected, '"rejected"')
    elif _is_hh(chosen) and isinstance(rejected, str):
        chosen_turns = _hh_turns(chosen, '"chosen"')
        rejected_turns = _hh_turns(rejected, '"rejected"')
        chosen_text = final_reply(chosen_turns, 'the "chosen" transcript')
        rejected_text = final_reply(rejected_turns, 'the "rejected" transcript')
        prompt = _shared_prompt(chosen_turns, rejected_turns, "HH-RLHF transcripts")
    elif isinstance(chosen, list) and isinstance(rejected, list):
        chosen_msgs = chat_messages(chosen, '"chosen"')
        rejected_msgs = chat_messages(rejected, '"rejected"')
        chosen_text = final_reply(chosen_msgs, '"chosen"')
        rejected_text = final_reply(rejected_msgs, '"rejected"')
        prompt = _shared_prompt(chosen_msgs, rejected_msgs, "conversations")
    else:
        raise RowError(
            'a row with "chosen" and "rejected" but no "prompt" must hold HH-RLHF transcripts '
            '("\\n\\nHuman: …\\n\\nAssistant: …") or full chat conversations; otherwise add a "prompt" field'
        )
    responses, add = preference_pair(chosen_text, rejected_text)
    return finish_row(raw, _PAIR_KEYS, prompt, responses, add)


def side_text(value: Any, what: str) -> str:
    """One side of a prompt/chosen/rejected row: a string, or messages ending with the assistant reply."""
    if isinstance(value, str):
        return required_text(value, what)
    if isinstance(value, list):
        return final_reply(chat_messages(value, what), what)
    raise RowError(f"{what} must be a non-empty string or a list of chat messages, got {described(value)}")
