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
    assert peak < 8 << 20 and elapsed < 2  # the line is 16 MB


def test_a_csv_row_longer_than_the_row_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "max_row_kb", 64)
    monkeypatch.setattr(get_settings(), "max_gzip_ratio", 10**6)  # this file is a bomb too
    quoted = b'prompt,response_a\nfine,ok\n"' + b"a\n" * (4 << 20) + b'",x\n'
    rows, peak, elapsed = _read(gzip.compress(quoted), "tasks.csv.gz")
    errors = _errors(rows)
    assert len(errors) == 1 and "PREFLAB_MAX_ROW_KB" in errors[0][1]
    assert errors[0][0] < 40_000  # the row at line 3 is refused within its first 64 KB
    assert peak < 8 << 20 and elapsed < 2
