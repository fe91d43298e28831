"""Streaming readers for import files: JSON Lines, JSON (a list or one object) and CSV, optionally gzipped.

`read_rows` never holds the whole file: it reads through buffered streams, decompresses on the fly and
hands out one row at a time as `(line_number, raw_row)`, or `(line_number, RowError)` for a row that
cannot be parsed, then goes on with the next row where the format allows it.

* gzip is recognised by its magic bytes, whatever the name says;
* the format comes from the extension without ".gz" (`.jsonl`, `.ndjson`, `.jsonlines`, `.json`,
  `.csv`, `.tsv`); for an unknown extension the first non-space byte decides (`[` JSON list,
  `{` JSON Lines);
* a UTF-8 byte order mark at the start is skipped;
* line numbers are physical lines (JSON Lines, CSV: the line where the record starts, header = line 1)
  or 1-based item numbers (JSON list).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

import ijson
import orjson

from app.core.config import get_settings
from app.imports.json_items import ItemLimits, excess, stream_items
from app.imports.json_items import Refused as _Refused
from app.imports.shapes import CsvRow, RowError

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_BUFFER = 1 << 20
_SPACE = b" \t\r\n"
_UTF8_HINT = "save the file as UTF-8"
_SNIFF_LIMIT = 64 * 1024  # leading blank space looked through to find the first byte
_RATIO_FLOOR = 1 << 20  # small files may compress well beyond any ratio; judge the ratio past this

_JSONL_EXTENSIONS = frozenset({".jsonl", ".ndjson", ".jsonlines"})


class _Prefixed(io.RawIOBase):
    """A raw stream that gives `head` first, then the rest of `rest` (to put back sniffed bytes)."""

    def __init__(self, head: bytes, rest: Any) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(target), len(self._head))
            target[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(target))
        if not data:
            return 0
        n = len(data)
        target[:n] = data
        return n


class _Inflated(io.RawIOBase):
    """Decompressed content that stops at `max_bytes` and at `max_ratio` times the compressed bytes read,
    so a small gzip cannot expand into unbounded work (the upload limit covers what is decompressed too)."""

    def __init__(self, source: Any, compressed: _Counted, *, max_bytes: int, max_ratio: int) -> None:
        super().__init__()
        self._source, self._compressed = source, compressed
        self._max_bytes, self._max_ratio = max_bytes, max_ratio
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        n = len(data)
        memoryview(buffer).cast("B")[:n] = data
        self.size += n
        if self.size > self._max_bytes:
            raise _Refused(
                f"the file decompresses to more than {self._max_bytes // 2**20} MB (PREFLAB_MAX_UPLOAD_MB)"
            )
        if self.size > _RATIO_FLOOR and self.size > self._max_ratio * max(self._compressed.size, 1):
            raise _Refused(
                f"the file decompresses to more than {self._max_ratio} times its size "
                "(PREFLAB_MAX_GZIP_RATIO); is it a zip bomb?"
            )
        return n


class _Counted(io.RawIOBase):
    """A raw stream that counts the bytes read through it."""

    def __init__(self, source: Any) -> None:
        super().__init__()
        self._source = source
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        n = len(data)
        memoryview(buffer).cast("B")[:n] = data
        self.size += n
        return n


def _rewind(head: bytes, rest: Any) -> io.BufferedReader:
    return io.BufferedReader(_Prefixed(head, rest), buffer_size=_BUFFER)


def _read_head(stream: Any, size: int) -> bytes:
    """Up to `size` bytes from the start of `stream` (fewer only at the end of the stream)."""
    head = b""
    while len(head) < size:
        chunk = stream.read(size - len(head))
        if not chunk:
            break
        head += chunk
    return head


def _open(stream: Any) -> tuple[io.BufferedReader, bytes]:
    """The decompressed content without BOM, and its first non-space byte (b"" for an empty file)."""
    settings = get_settings()
    head = _read_head(stream, 2)
    source: Any = _rewind(head, stream)
    if head == _GZIP_MAGIC:
        compressed = _Counted(source)
        inflated = gzip.GzipFile(fileobj=compressed, mode="rb")
        source = io.BufferedReader(
            _Inflated(
                inflated,
                compressed,
                max_bytes=settings.max_upload_mb * 2**20,
                max_ratio=settings.max_gzip_ratio,
            ),
            buffer_size=_BUFFER,
        )
    head = _read_head(source, 3)
    if head == _BOM:
        head = b""
    chunks = [head]
    seen = len(head)
    first = head.lstrip(_SPACE)[:1]
    while not first:
        if seen > _SNIFF_LIMIT:
            raise _Refused(f"the file starts with more than {_SNIFF_LIMIT // 1024} KB of blank space")
        chunk = source.read(4096)
        if not chunk:
            break
        chunks.append(chunk)
        seen += len(chunk)
        first = chunk.lstrip(_SPACE)[:1]
    return _rewind(b"".join(chunks), source), first


def _extension(filename: str) -> str:
    name = (filename or "").strip().lower().replace("\\", "/").rsplit("/", 1)[-1]
    if name.endswith(".gz"):
        name = name[:-3]
    return os.path.splitext(name)[1]


def _bad_utf8(data: bytes) -> str | None:
    """A message when `data` is not UTF-8, else None."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return f"not valid UTF-8 text (byte 0x{data[err.start]:02x} at byte {err.start + 1}); {_UTF8_HINT}"
    return None


def _row_limit() -> int:
    return get_settings().max_row_kb * 1024


def _too_long(what: str, line: int) -> _Refused:
    return _Refused(
        f"{what} is longer than {get_settings().max_row_kb} KB (PREFLAB_MAX_ROW_KB); "
        "split the row or raise the limit",
        line,
    )


def _lines(source: io.BufferedReader, start: int) -> Iterator[tuple[int, bytes]]:
    """Numbered physical lines, refusing one longer than the row limit before reading the rest of it."""
    limit = _row_limit()
    number = start
    while line := source.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            raise _too_long(f"line {number}", number)
        yield number, line


def _jsonl(source: io.BufferedReader, start: int = 0) -> Iterator[tuple[int, Any]]:
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    limits = ItemLimits.configured()
    for number, line in _lines(source, start):
        if line.isspace():
            continue
        try:
            row = loads(line)
        except decode_error as err:
            message = _bad_utf8(line) or f"not valid JSON: {err.msg} at column {err.colno}"
            yield number, RowError(message)
            continue
        # Only a line with that many brackets or bytes can break the limits: most lines skip the walk.
        if len(line) > limits.values or line.count(b"[") + line.count(b"{") > limits.depth:
            problem = excess(row, limits)
            if problem:
                yield number, RowError(f"the row {problem}")
                continue
        yield number, row


def _ijson_message(err: Exception) -> str:
    text = str(err).split("\n", 1)[0]
    if text[:2] in ("b'", 'b"'):
        text = text[2:].split("\\n", 1)[0]
    if "UTF8" in text or "UTF-8" in text:
        return f"not valid UTF-8 text; {_UTF8_HINT}"
    return f"not valid JSON: {text.strip()}"


def _json_values(source: io.BufferedReader, *, in_list: bool) -> Iterator[tuple[int, Any]]:
    """Items of a JSON document (numbered from 1); a broken document ends with one RowError."""
    number = 0
    try:
        for number, item in stream_items(source, in_list=in_list):
            yield number, item
    except (ijson.JSONError, UnicodeDecodeError) as err:
        yield (
            number + 1,
            RowError(f"item {number + 1}: {_ijson_message(err)}; the file is broken from here on"),
        )


def _json_objects(source: io.BufferedReader) -> Iterator[tuple[int, Any]]:
    """A file starting with "{": JSON Lines when its first line is a whole object, else one (or more)
    pretty-printed objects."""
    first = source.readline(_row_limit() + 1)
    try:
        complete = isinstance(orjson.loads(first), dict)
    except orjson.JSONDecodeError:
        complete = False
    if complete:
        yield from _jsonl(_rewind(first, source))
    else:
        yield from _json_values(_rewind(first, source), in_list=False)


class _Lines:
    """Decoded physical lines for the csv module, counting them and noting lines that are not UTF-8."""

    __slots__ = ("bad", "count", "limit", "record", "source")

    def __init__(self, source: io.BufferedReader) -> None:
        self.source = source
        self.count = 0
        self.bad = 0  # first line of the current record that was not UTF-8
        self.limit = _row_limit()
        self.record = 0  # bytes of the current record so far (a quoted cell may span lines)

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.source.readline(self.limit + 1 - self.record)
        if not line:
            raise StopIteration
        self.count += 1
        self.record += len(line)
        if self.record > self.limit:
            raise _too_long(f"the row at line {self.count}", self.count)
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            if not self.bad:
                self.bad = self.count
            return line.decode("utf-8", "surrogateescape")


def _csv(source: io.BufferedReader, delimiter: str) -> Iterator[tuple[int, Any]]:
    lines = _Lines(source)
    if csv.field_size_limit() < lines.limit:
        csv.field_size_limit(lines.limit)
    reader = csv.reader(lines, delimiter=delimiter)
    header: list[str] | None = None
    keep: list[int] = []
    width = 0
    all_kept = True
    end = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield end + 1, RowError(f"not valid CSV: {err}")
            return
        start, end = end + 1, lines.count
        bad, lines.bad, lines.record = lines.bad, 0, 0
        if not any(fields):
            continue
        if bad:
            yield bad, RowError(f"not valid UTF-8 text; {_UTF8_HINT}")
            if header is None:
                return
            continue
        if header is None:
            names = [name.strip() for name in fields]
            keep = [i for i, name in enumerate(names) if name]
            header = [names[i] for i in keep]
            duplicate = next((name for i, name in enumerate(header) if name in header[:i]), None)
            if duplicate is not None:
                yield start, RowError(f'the header names the column "{duplicate}" twice; rename one of them')
                return
            if not header:
                yield start, RowError("the header row has no column names")
                return
            width = len(names)
            all_kept = len(keep) == width
            continue
        if len(fields) > width:
            yield (
                start,
                RowError(
                    f"the row has {len(fields)} fields but the header has {width} columns; "
                    "put fields that contain the delimiter or line breaks in double quotes"
                ),
            )
            continue
        if len(fields) < width:
            fields.extend([""] * (width - len(fields)))
        if all_kept:
            yield start, CsvRow(zip(header, fields, strict=True))
        else:
            yield start, CsvRow(zip(header, (fields[i] for i in keep), strict=True))


def _rows(source: io.BufferedReader, first: bytes, extension: str) -> Iterator[tuple[int, Any]]:
    if not first:
        return
    if extension in _JSONL_EXTENSIONS:
        yield from _jsonl(source)
    elif extension == ".csv":
        yield from _csv(source, ",")
    elif extension == ".tsv":
        yield from _csv(source, "\t")
    elif first == b"[":
        yield from _json_values(source, in_list=True)
    elif first == b"{":
        yield from _json_objects(source)
    elif extension == ".json":
        yield 1, RowError('a .json file must hold a list of rows ("[...]") or one row object ("{...}")')
    else:
        yield (
            1,
            RowError(
                f'cannot tell the format of a "{extension or "no extension"}" file; '
                "upload .jsonl, .json or .csv (optionally .gz)"
            ),
        )


def read_rows(stream: BinaryIO, *, filename: str) -> Iterator[tuple[int, Any | RowError]]:
    """Yield `(line_number, raw_row)` or `(line_number, RowError)` for every row of an uploaded file."""
    last = 0
    try:
        source, first = _open(stream)
        for item in _rows(source, first, _extension(filename)):
            last = item[0]
            yield item
    except _Refused as err:
        yield err.line or last + 1, RowError(str(err))
    except (OSError, EOFError, zlib.error) as err:
        yield (
            last + 1,
            RowError(f"the file could not be read past this point ({err}); is it damaged or truncated?"),
        )
