"""A task's images for a model that accepts them (the project's endpoint setting `images`): each `<image>`
placeholder of a message becomes an OpenAI image part holding the stored file as a data URI, in order; a
message built from a template (label, judge), which holds no placeholder, gets the task's images first."""

from __future__ import annotations

import base64
from typing import Any

from app.kinds.messages import IMAGE, images_of, split_at_images
from app.media.images import path_of

CHARS_PER_IMAGE = 768  # what an estimate counts for one image (~256 tokens; the text is counted as text)


def _part(ref: dict[str, Any]) -> dict[str, Any]:
    data = base64.b64encode(path_of(ref["sha256"]).read_bytes()).decode()
    return {"type": "image_url", "image_url": {"url": f"data:{ref['type']};base64,{data}"}}


def with_images(messages: list[dict[str, Any]], meta: Any) -> list[dict[str, Any]]:
    """`messages` with the task's images as image parts; unchanged for a task without images."""
    refs = images_of(meta)
    if not refs:
        return messages
    left = iter(refs)
    out: list[dict[str, Any]] = []
    placed = False
    for message in messages:
        content = message.get("content")
        if not isinstance(content, str) or IMAGE not in content or message.get("role") == "tool":
            out.append(message)
            continue
        parts = split_at_images(content, left)
        placed = placed or any("image" in p for p in parts)
        sent = [_part(p["image"]) if "image" in p else {"type": "text", "text": p["text"]} for p in parts]
        out.append({**message, "content": sent})
    if not placed:  # no placeholder anywhere: the images go first in the first user message
        for i, message in enumerate(out):
            if message.get("role") == "user":
                text = message.get("content")
                out[i] = {**message, "content": [*map(_part, refs), {"type": "text", "text": str(text)}]}
                break
    return out


def text_chars(messages: list[dict[str, Any]]) -> int:
    """The characters of a request's text and a token-sized allowance for each image, for the estimate."""
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                total += len(str(part.get("text", ""))) if part.get("type") == "text" else CHARS_PER_IMAGE
        else:
            total += len(str(content or ""))
    return total
