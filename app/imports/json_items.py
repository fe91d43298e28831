"""Limits on what one imported row may hold, enforced while a JSON document streams in (issue 18): a
small file nested 50,000 deep, or one item of a gigabyte, must be refused before it is built.

* `ItemLimits` — nesting depth, values and bytes per row (PREFLAB_MAX_ROW_DEPTH, _VALUES, _KB);
* `stream_items` — the items of a JSON document, built event by event under those limits;
* `excess` — the same limits checked on a value already parsed from one bounded line or cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ijson
from ijson.common import ObjectBuilder

from app.core.config import get_settings

_OPEN = frozenset({"start_map", "start_array"})
_CLOSE = frozenset({"end_map", "end_array"})


class Refused(Exception):
    """The file breaks a limit: reading stops here with this message (on `line` when known)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class ItemLimits:
    depth: int
    values: int
    bytes: int

    @classmethod
    def configured(cls) -> ItemLimits:
        settings = get_settings()
        return cls(settings.max_row_depth, settings.max_row_values, settings.max_row_kb * 1024)

    def too_deep(self) -> str:
        return f"is nested deeper than {self.depth} levels (PREFLAB_MAX_ROW_DEPTH)"

    def too_many(self) -> str:
        return f"holds more than {self.values} values (PREFLAB_MAX_ROW_VALUES)"

    def too_large(self) -> str:
        return f"is larger than {self.bytes // 1024} KB (PREFLAB_MAX_ROW_KB); split it or raise the limit"


def excess(value: Any, limits: ItemLimits) -> str | None:
    """What `value` holds beyond the limits (depth, values), or None."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > limits.values:
            return limits.too_many()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limits.depth:
            return limits.too_deep()
        stack.extend((child, depth + 1) for child in children)
    return None


class _Metered:
    """The stream ijson reads, refusing to read on once the current item has taken more than its bytes
    (ijson buffers a whole token, so a huge string must be stopped here, not after it is parsed)."""

    def __init__(self, source: Any, limits: ItemLimits) -> None:
        self._source, self._limits = source, limits
        self.position = 0
        self.item = 0  # the item being built, 0 between items
        self.item_start = 0

    def read(self, size: int = -1) -> bytes:
        if self.item and self.position - self.item_start > self._limits.bytes:
            raise Refused(f"item {self.item} {self._limits.too_large()}", self.item)
        data: bytes = self._source.read(size)
        self.position += len(data)
        return data


def stream_items(source: Any, *, in_list: bool) -> Iterator[tuple[int, Any]]:
    """`(item_number, item)` for each element of a top-level list (`in_list`) or each top-level value;
    refuses (raises `Refused`) an item over the limits as soon as it gets there, before building more."""
    limits = ItemLimits.configured()
    metered = _Metered(source, limits)
    base = 1 if in_list else 0
    depth = number = values = 0
    builder: ObjectBuilder | None = None
    for event, value in ijson.basic_parse(metered, use_float=True, multiple_values=not in_list):
        opening = event in _OPEN
        if event in _CLOSE:
            depth -= 1
        if depth < base:  # the list's own brackets
            depth += opening
            continue
        if builder is None:
            number += 1
            builder, values = ObjectBuilder(), 0
            metered.item, metered.item_start = number, metered.position
        if opening:
            depth += 1
            if depth - base > limits.depth:
                raise Refused(f"item {number} {limits.too_deep()}", number)
        if event != "map_key" and event not in _CLOSE:
            values += 1
            if values > limits.values:
                raise Refused(f"item {number} {limits.too_many()}", number)
        builder.event(event, value)
        if depth == base:
            metered.item = 0
            yield number, builder.value
            builder = None
