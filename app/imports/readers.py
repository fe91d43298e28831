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

from app.imports.shapes import CsvRow, RowError

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_BUFFER = 1 << 20
_SPACE = b" \t\r\n"
_CSV_FIELD_LIMIT = 256 * 1024 * 1024  # one cell may hold a long response
_UTF8_HINT = "save the file as UTF-8"

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
    head = _read_head(stream, 2)
    source: Any = _rewind(head, stream)
    if head == _GZIP_MAGIC:
        source = gzip.GzipFile(fileobj=source, mode="rb")
    head = _read_head(source, 3)
    if head == _BOM:
        head = b""
    sniffed = head
    while True:
        stripped = sniffed.lstrip(_SPACE)
        if stripped:
            first = stripped[:1]
            break
        chunk = source.read(64 * 1024)
        if not chunk:
            first = b""
            break
        head += chunk
        sniffed = chunk
    return _rewind(head, source), first


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


def _jsonl(source: io.BufferedReader, start: int = 0) -> Iterator[tuple[int, Any]]:
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    for number, line in enumerate(source, start + 1):
        if line.isspace():
            continue
        try:
            yield number, loads(line)
        except decode_error as err:
            message = _bad_utf8(line) or f"not valid JSON: {err.msg} at column {err.colno}"
            yield number, RowError(message)


def _ijson_message(err: Exception) -> str:
    text = str(err).split("\n", 1)[0]
    if text[:2] in ("b'", 'b"'):
        text = text[2:].split("\\n", 1)[0]
    if "UTF8" in text or "UTF-8" in text:
        return f"not valid UTF-8 text; {_UTF8_HINT}"
    return f"not valid JSON: {text.strip()}"


def _json_values(source: io.BufferedReader, prefix: str, **options: Any) -> Iterator[tuple[int, Any]]:
    """Items of a JSON document (numbered from 1); a broken document ends with one RowError."""
    number = 0
    try:
        for number, item in enumerate(ijson.items(source, prefix, use_float=True, **options), 1):
            yield number, item
    except (ijson.JSONError, UnicodeDecodeError) as err:
        yield (
            number + 1,
            RowError(f"item {number + 1}: {_ijson_message(err)}; the file is broken from here on"),
        )


def _json_objects(source: io.BufferedReader) -> Iterator[tuple[int, Any]]:
    """A file starting with "{": JSON Lines when its first line is a whole object, else one (or more)
    pretty-printed objects."""
    first = source.readline()
    try:
        complete = isinstance(orjson.loads(first), dict)
    except orjson.JSONDecodeError:
        complete = False
    if complete:
        yield 1, orjson.loads(first)
        yield from _jsonl(source, start=1)
    else:
        yield from _json_values(_rewind(first, source), "", multiple_values=True)


class _Lines:
    """Decoded physical lines for the csv module, counting them and noting lines that are not UTF-8."""

    __slots__ = ("bad", "count", "source")

    def __init__(self, source: io.BufferedReader) -> None:
        self.source = source
        self.count = 0
        self.bad = 0  # first line of the current record that was not UTF-8

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.source.readline()
        if not line:
            raise StopIteration
        self.count += 1
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            if not self.bad:
                self.bad = self.count
            return line.decode("utf-8", "surrogateescape")


def _csv(source: io.BufferedReader, delimiter: str) -> Iterator[tuple[int, Any]]:
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    lines = _Lines(source)
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
        bad, lines.bad = lines.bad, 0
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
        yield from _json_values(source, "item")
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
    except (OSError, EOFError, zlib.error) as err:
        yield (
            last + 1,
            RowError(f"the file could not be read past this point ({err}); is it damaged or truncated?"),
        )
