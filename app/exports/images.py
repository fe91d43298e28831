"""The images of a snapshot: each row names its task's images as files in the snapshot (`images` column,
paths relative to the snapshot directory, `images/<sha256>.<ext>`), and in chat form its messages' content
becomes TRL's typed parts, `[{"type": "image"}, {"type": "text", "text": …}]`, the image parts where the
`<image>` placeholders were (trl.data_utils.prepare_multimodal_messages fills them from `images`).

The files are linked (or copied, across filesystems) from the data dir into the snapshot once each, and
checked against their hash on the way in: a row whose image is missing or damaged is left out, counted."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from app.exports.writers import sha256_of
from app.kinds.messages import IMAGE
from app.media.images import EXTENSIONS, path_of

FOLDER = "images"
# the columns that hold a task's prompt, where its placeholders are; in the others (chosen, rejected,
# completion) an `<image>` is text a response happened to contain
PROMPT_COLUMNS = ("prompt", "messages", "text")
MISSING = "image file missing"
DAMAGED = "image file does not match its sha256"


def image_file(ref: dict[str, Any]) -> str:
    """Where an image lies in a snapshot, relative to its directory."""
    return f"{FOLDER}/{ref['sha256']}.{EXTENSIONS.get(str(ref.get('type')), 'bin')}"


class _Placing:
    """A row's images handed out to its placeholders in order; what is left over stays text."""

    def __init__(self, refs: list[dict[str, Any]]) -> None:
        self.refs = refs
        self.used = 0

    def _take(self, images: bool) -> bool:
        if images and self.used < len(self.refs):
            self.used += 1
            return True
        return False

    def parts(self, content: str, *, images: bool) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        text = ""
        pieces = content.split(IMAGE)
        for i, piece in enumerate(pieces):
            text += piece
            if i == len(pieces) - 1:
                break
            if self._take(images):
                if text:
                    parts.append({"type": "text", "text": text})
                parts.append({"type": "image"})
                text = ""
            else:
                text += IMAGE
        if text:
            parts.append({"type": "text", "text": text})
        return parts

    def count(self, text: str, *, images: bool) -> None:
        for _ in range(text.count(IMAGE)):
            if not self._take(images):
                return


def place_images(
    row: dict[str, Any],
    message_columns: Iterable[str],
    text_columns: Iterable[str],
    refs: list[dict[str, Any]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The row with every message's content as typed parts (`message_columns`: message lists) and the
    images its placeholders take, in order: the prompt columns' placeholders (not a tool's), one image each
    while there are images. Plain-text columns keep their placeholders and only count them."""
    placing = _Placing(refs)
    out = dict(row)
    for name in message_columns:
        messages = row.get(name)
        if not isinstance(messages, list):
            continue
        here = name in PROMPT_COLUMNS
        out[name] = [
            {
                **m,
                "content": placing.parts(
                    str(m.get("content") or ""), images=here and m.get("role") != "tool"
                ),
            }
            for m in messages
        ]
    for name in text_columns:
        value = row.get(name)
        if isinstance(value, str):
            placing.count(value, images=name in PROMPT_COLUMNS)
    return out, refs[: placing.used]


class SnapshotImages:
    """The image files of one snapshot, each brought in once; the manifest lists those that rows name."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._known: dict[str, str | None] = {}  # sha256 -> None (in the snapshot) or why not
        self._files: dict[str, dict[str, Any]] = {}  # sha256 -> its manifest entry
        self._named: set[str] = set()  # those a written row names

    def problem(self, refs: list[dict[str, Any]]) -> str | None:
        """Why these images (one row's) cannot be in the snapshot, or None once they all are."""
        for ref in refs:
            sha = str(ref["sha256"])
            if sha not in self._known:
                self._known[sha] = self._bring(ref)
            if (why := self._known[sha]) is not None:
                return why
        self._named.update(str(ref["sha256"]) for ref in refs)
        return None

    def _bring(self, ref: dict[str, Any]) -> str | None:
        sha = str(ref["sha256"])
        source = path_of(sha)
        name = image_file(ref)
        target = self.directory / name
        target.parent.mkdir(exist_ok=True)
        try:
            try:
                os.link(source, target)  # the data dir's files are never rewritten (content-addressed)
            except FileNotFoundError:
                return MISSING
            except OSError:  # another filesystem, or links not allowed: a copy
                shutil.copyfile(source, target)
        except FileNotFoundError:
            return MISSING
        digest = sha256_of(target)
        if digest != sha:
            target.unlink()
            return DAMAGED
        self._files[sha] = {"file": name, "sha256": digest, "bytes": target.stat().st_size}
        return None

    def seal(self) -> list[dict[str, Any]]:
        """The files rows name, for the manifest, made read-only like the rest of the snapshot (a linked
        file shares its mode with the data dir's, which is never written again either). A file brought in
        for a row that was then left out (another of its images was missing) is removed."""
        for sha, f in self._files.items():
            with contextlib.suppress(OSError):
                if sha in self._named:
                    os.chmod(self.directory / f["file"], 0o444)
                else:
                    (self.directory / f["file"]).unlink()
        return sorted((f for sha, f in self._files.items() if sha in self._named), key=lambda f: f["file"])
