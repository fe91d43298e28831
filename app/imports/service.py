"""Task import: validate every row, write in bulk, dedupe by external id or content hash.

Two paths share the row handling:
- inline (small uploads, JSON posts): one pass inside the request's transaction; a bad row stops
  the writing, the rest is still validated for the error list, and the transaction rolls back.
- job (large uploads): pass 1 validates the whole file; pass 2 writes batches, each committed
  together with the job's counters, so a crashed worker resumes where it stopped and a retry
  never writes a row twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.errors import ImportRejected
from app.imports.readers import read_rows
from app.imports.shapes import ImportMapping, RowError, TaskRow, normalize_row
from app.models import Project, utcnow

MAX_ERRORS = 50

_COLUMNS = (
    "project_id, external_id, dedupe_key, prompt, responses, meta, priority, gold, status, "
    "annotation_count, import_job_id, created_at"
)
_PG_INSERT = (
    f"INSERT INTO tasks ({_COLUMNS}) VALUES "
    "(%s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb, %s, %s::jsonb, 'open', 0, %s, %s) "
    "ON CONFLICT (project_id, dedupe_key) DO NOTHING"
)
_SQLITE_INSERT = (
    f"INSERT INTO tasks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', 0, ?, ?) "
    "ON CONFLICT (project_id, dedupe_key) DO NOTHING"
)


@dataclass
class ImportResult:
    imported: int = 0
    duplicates: int = 0
    rows: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0

    def add_error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"line": line, "message": message})


def dedupe_key(row: TaskRow) -> str:
    if row.external_id is not None:
        return row.external_id
    content = orjson.dumps([row.prompt, [r["text"] for r in row.responses]], option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(content).hexdigest()


def _dump(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


class TaskWriter:
    """Bulk writes through the session's own connection, so rows join the current transaction."""

    def __init__(self, session: Session, *, project_id: int, job_id: int | None = None) -> None:
        self.session = session
        self.project_id = project_id
        self.job_id = job_id
        self.dialect = session.get_bind().dialect.name

    def _params(self, rows: list[TaskRow], now: datetime) -> Iterator[tuple[Any, ...]]:
        created: Any = now if self.dialect == "postgresql" else now.strftime("%Y-%m-%d %H:%M:%S.%f")
        for row in rows:
            yield (
                self.project_id,
                row.external_id,
                dedupe_key(row),
                _dump(row.prompt),
                _dump(row.responses),
                _dump(row.meta),
                row.priority,
                _dump(row.gold),
                self.job_id,
                created,
            )

    def write(self, rows: list[TaskRow]) -> int:
        """Insert rows, skipping keys the project already has; returns how many were new."""
        if not rows:
            return 0
        dbapi_conn = self.session.connection().connection.dbapi_connection
        assert dbapi_conn is not None
        cursor = dbapi_conn.cursor()
        try:
            sql = _PG_INSERT if self.dialect == "postgresql" else _SQLITE_INSERT
            cursor.executemany(sql, list(self._params(rows, utcnow())))
            return int(cursor.rowcount)
        finally:
            cursor.close()


def _rows(
    raw_rows: Iterable[tuple[int, Any]], mapping: ImportMapping | None, result: ImportResult
) -> Iterator[TaskRow]:
    """Normalized rows; bad ones are recorded in `result` and left out."""
    max_rows = get_settings().max_import_rows
    for line, raw in raw_rows:
        result.rows += 1
        if result.rows > max_rows:
            result.add_error(line, f"the file has more than {max_rows} rows; split it into smaller files")
            return
        if isinstance(raw, RowError):
            result.add_error(line, str(raw))
            continue
        try:
            yield normalize_row(raw, mapping=mapping)
        except RowError as exc:
            result.add_error(line, str(exc))


def import_inline(
    session: Session,
    *,
    project: Project,
    raw_rows: Iterable[tuple[int, Any]],
    mapping: ImportMapping | None = None,
) -> ImportResult:
    """Validate and write in one pass; raises ImportRejected (caller rolls back) on any bad row."""
    result = ImportResult()
    writer = TaskWriter(session, project_id=project.id)
    batch_size = get_settings().import_batch_size
    batch: list[TaskRow] = []
    valid = 0
    for row in _rows(raw_rows, mapping, result):
        valid += 1
        if result.error_count:
            continue  # keep validating for the error list, write nothing more
        batch.append(row)
        if len(batch) >= batch_size:
            result.imported += writer.write(batch)
            batch.clear()
    if result.error_count:
        raise ImportRejected(result.errors, result.error_count)
    result.imported += writer.write(batch)
    result.duplicates = valid - result.imported
    return result


def validate_file(
    path: Path,
    *,
    filename: str,
    mapping: ImportMapping | None,
    on_progress: Callable[[float], None] | None = None,
) -> ImportResult:
    """Pass 1 of a job import: every row checked, nothing written."""
    result = ImportResult()
    size = max(path.stat().st_size, 1)
    with path.open("rb") as fh:
        for n, _ in enumerate(_rows(read_rows(fh, filename=filename), mapping, result), 1):
            if on_progress is not None and n % 20_000 == 0:
                on_progress(fh.tell() / size)
    return result


def iter_valid_rows(
    path: Path, *, filename: str, mapping: ImportMapping | None, fh_holder: list[BinaryIO] | None = None
) -> Iterator[TaskRow]:
    """Pass 2 of a job import: the rows again, already known to be valid."""
    result = ImportResult()
    with path.open("rb") as fh:
        if fh_holder is not None:
            fh_holder.append(fh)
        yield from _rows(read_rows(fh, filename=filename), mapping, result)
    if result.error_count:  # the file changed between the passes
        raise ImportRejected(result.errors, result.error_count)
