"""Limits the readers enforce while streaming (issue 18): a small upload must not turn into unbounded
time or memory in the process that reads it. Limits are set small here; peak memory is traced in the
test process, where the reader runs."""

from __future__ import annotations

import gzip
import io
import time
import tracemalloc
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.imports.readers import read_rows
from app.imports.shapes import RowError
from tests import factories


def _read(data: bytes, filename: str) -> tuple[list[tuple[int, Any]], int, float]:
    """The rows read, the reader's peak traced memory and its time."""
    tracemalloc.start()
    began = time.perf_counter()
    try:
        rows = list(read_rows(io.BytesIO(data), filename=filename))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return rows, peak, time.perf_counter() - began


def _errors(rows: list[tuple[int, Any]]) -> list[tuple[int, str]]:
    return [(n, str(item)) for n, item in rows if isinstance(item, RowError)]


def _varied_jsonl(size: int) -> bytes:
    """JSON Lines that compress poorly (distinct numbers), about `size` bytes."""
    lines, total, i = [], 0, 0
    while total < size:
        line = orjson.dumps({"prompt": f"p{i * 7919 % 1000003}-{i * 104729 % 999983}"}) + b"\n"
        lines.append(line)
        total += len(line)
        i += 1
    return b"".join(lines)


# ── finding 3: sniffing, decompressed size and ratio ──


def test_a_gzip_of_blank_space_is_refused_after_a_bounded_look() -> None:
    rows, peak, elapsed = _read(gzip.compress(b" \n" * (8 << 20)), "tasks.gz")
    assert [message for _, message in _errors(rows)] == [
        "the file starts with more than 64 KB of blank space"
    ]
    assert peak < 12 << 20 and elapsed < 2  # the whole file is 16 MB


def test_what_a_gzip_decompresses_to_counts_against_the_upload_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "max_upload_mb", 1)
    rows, peak, elapsed = _read(gzip.compress(_varied_jsonl(3 << 20)), "tasks.jsonl.gz")
    errors = _errors(rows)
    assert len(errors) == 1 and "PREFLAB_MAX_UPLOAD_MB" in errors[0][1]
    assert len(rows) < 60_000 and peak < 40 << 20 and elapsed < 5


def test_a_gzip_that_expands_far_beyond_its_size_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "max_gzip_ratio", 50)
    data = gzip.compress(b'{"prompt": "the same row"}\n' * 200_000)
    rows, _, elapsed = _read(data, "tasks.jsonl.gz")
    errors = _errors(rows)
    assert len(errors) == 1 and "PREFLAB_MAX_GZIP_RATIO" in errors[0][1]
    assert elapsed < 5


def test_an_upload_of_blank_gzip_answers_422(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    r = client.post(
        f"/api/v1/projects/{project.id}/imports",
        headers={"Authorization": f"Bearer {factories.make_token(db, lead)}"},
        files={"file": ("tasks.jsonl.gz", gzip.compress(b" " * (2 << 20)))},
    )
    assert r.status_code == 422
    assert "blank space" in r.json()["errors"][0]["message"]


# ── finding 4: the longest line or row ──


def _one_long_line(size: int) -> bytes:
    return b'{"prompt": "fine"}\n{"prompt": "' + b"a" * size + b'"}\n'


@pytest.mark.parametrize("filename", ["tasks.jsonl.gz", "tasks.gz"])
def test_a_line_longer_than_the_row_limit_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, filename: str
) -> None:
    monkeypatch.setattr(get_settings(), "max_row_kb", 64)
    monkeypatch.setattr(get_settings(), "max_gzip_ratio", 10**6)  # this file is a bomb too
    rows, peak, elapsed = _read(gzip.compress(_one_long_line(16 << 20)), filename)
    assert rows[0] == (1, {"prompt": "fine"})
    errors = _errors(rows)
    assert len(errors) == 1 and errors[0][0] == 2
    assert "line 2 is longer than 64 KB (PREFLAB_MAX_ROW_KB)" in errors[0][1]
    assert peak < 12 << 20 and elapsed < 2  # the line is 16 MB; a few 1 MB read buffers


def test_a_csv_row_longer_than_the_row_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "max_row_kb", 64)
    monkeypatch.setattr(get_settings(), "max_gzip_ratio", 10**6)  # this file is a bomb too
    quoted = b'prompt,response_a\nfine,ok\n"' + b"a\n" * (4 << 20) + b'",x\n'
    rows, peak, elapsed = _read(gzip.compress(quoted), "tasks.csv.gz")
    errors = _errors(rows)
    assert len(errors) == 1 and "PREFLAB_MAX_ROW_KB" in errors[0][1]
    assert errors[0][0] < 40_000  # the row at line 3 is refused within its first 64 KB
    assert peak < 8 << 20 and elapsed < 2


# ── finding 2: depth, values and size of one row, whatever the reader ──


def _nested(depth: int) -> bytes:
    return b'{"prompt": "deep", "meta": {"x": ' + b"[" * depth + b"]" * depth + b"}}"


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"[" + _nested(50_000) + b"]", "tasks.json"),
        (_nested(50_000), "tasks.json"),
        (b'[{"data": {"text": "x", "deep": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}]", "ls-export.json"),
        (b'{"prompt": "fine"}\n' + _nested(200) + b"\n", "tasks.jsonl"),
    ],
    ids=["json-list", "json-object", "label-studio", "jsonl"],
)
def test_a_row_nested_too_deep_is_refused_before_it_is_built(
    monkeypatch: pytest.MonkeyPatch, data: bytes, filename: str
) -> None:
    monkeypatch.setattr(get_settings(), "max_row_depth", 16)
    rows, peak, elapsed = _read(data, filename)
    errors = _errors(rows)
    assert len(errors) == 1 and "nested deeper than 16 levels (PREFLAB_MAX_ROW_DEPTH)" in errors[0][1]
    assert peak < 12 << 20 and elapsed < 1  # a few 1 MB read buffers (the .json took 6.5 GB)


def test_a_json_item_with_too_many_values_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "max_row_values", 1000)
    data = b'[{"prompt": "ok"}, {"prompt": "wide", "meta": {"x": [' + b"1," * 500_000 + b"1]}}]"
    rows, peak, elapsed = _read(data, "tasks.json")
    assert rows[0] == (1, {"prompt": "ok"})
    errors = _errors(rows)
    assert errors == [(2, "item 2 holds more than 1000 values (PREFLAB_MAX_ROW_VALUES)")]
    assert peak < 12 << 20 and elapsed < 1


def test_one_huge_string_in_a_json_list_is_refused_while_streaming(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "max_row_kb", 64)
    monkeypatch.setattr(get_settings(), "max_gzip_ratio", 10**6)
    data = gzip.compress(b'[{"prompt": "ok"}, {"prompt": "' + b"a" * (32 << 20) + b'"}]')
    rows, peak, elapsed = _read(data, "tasks.json.gz")
    errors = _errors(rows)
    assert len(errors) == 1 and errors[0][0] == 2 and "PREFLAB_MAX_ROW_KB" in errors[0][1]
    assert peak < 16 << 20 and elapsed < 2  # the string is 32 MB


def test_a_csv_meta_cell_nested_too_deep_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.imports.shapes import normalize_row

    monkeypatch.setattr(get_settings(), "max_row_depth", 16)
    cell = b'"{""x"": ' + b"[" * 500 + b"]" * 500 + b'}"'
    rows = list(read_rows(io.BytesIO(b"prompt,meta\nhello," + cell + b"\n"), filename="t.csv"))
    with pytest.raises(RowError, match="PREFLAB_MAX_ROW_DEPTH"):
        normalize_row(rows[0][1])


def test_rows_within_the_limits_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "max_row_depth", 16)
    row = {"prompt": "p", "meta": {"a": [[1, 2.5], {"b": None}], "c": True}}
    listed, _, _ = _read(orjson.dumps([row, [1, "x"], 3]), "t.json")
    assert listed == [(1, row), (2, [1, "x"]), (3, 3)]
    several, _, _ = _read(orjson.dumps(row, option=orjson.OPT_INDENT_2) * 2, "t.json")
    assert several == [(1, row), (2, row)]
