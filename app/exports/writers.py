"""Snapshot files, written as rows arrive: JSONL (optionally gzip) or Parquet, one file per split.

Files are byte-for-byte reproducible: rows come in task order, gzip gets no timestamp or file name, and
Parquet gets a fixed schema and row-group size."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from app.exports.schemas import Split

BATCH = 4096


def split_of(key: str, split: Split) -> str:
    """train / validation / test by a seeded hash of the prompt: one prompt never lands on two sides."""
    digest = hashlib.sha256(f"{split.seed}\x00{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < split.test:
        return "test"
    if u < split.test + split.validation:
        return "validation"
    return "train"


def file_name(split: str, file_format: str, gz: bool) -> str:
    return f"{split}.{file_format}" + (".gz" if gz else "")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


class _JsonlSink:
    def __init__(self, path: Path, gz: bool) -> None:
        self._raw = path.open("wb")
        self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0) if gz else None

    def write(self, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
        (self._gz or self._raw).write(b"".join(orjson.dumps(row) + b"\n" for row in rows))

    def close(self) -> None:
        if self._gz is not None:
            self._gz.close()
        self._raw.close()


class _ParquetSink:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
        self._writer.write_table(pa.Table.from_pylist(rows, schema=schema), row_group_size=BATCH * 16)

    def close(self) -> None:
        self._writer.close()


class SplitWriter:
    """One file per split, buffered in batches; counts rows per split."""

    def __init__(self, directory: Path, *, names: list[str], schema: pa.Schema, file_format: str, gz: bool):
        self.directory = directory
        self.schema = schema
        self.counts = dict.fromkeys(names, 0)
        self.paths = {name: directory / file_name(name, file_format, gz) for name in names}
        self._buffers: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        self._sinks: dict[str, _JsonlSink | _ParquetSink] = {
            name: _ParquetSink(path, schema) if file_format == "parquet" else _JsonlSink(path, gz)
            for name, path in self.paths.items()
        }

    def add(self, split: str, row: dict[str, Any]) -> None:
        buffer = self._buffers[split]
        buffer.append(row)
        self.counts[split] += 1
        if len(buffer) >= BATCH:
            self._flush(split)

    def _flush(self, split: str) -> None:
        if self._buffers[split]:
            self._sinks[split].write(self._buffers[split], self.schema)
            self._buffers[split] = []

    def close(self) -> dict[str, dict[str, Any]]:
        """Flush and close every file; returns {split: {file, rows, bytes, sha256}}."""
        files = {}
        for name, sink in self._sinks.items():
            self._flush(name)
            sink.close()
            path = self.paths[name]
            files[name] = {
                "file": path.name,
                "rows": self.counts[name],
                "bytes": path.stat().st_size,
                "sha256": sha256_of(path),
            }
        return files

    def abort(self) -> None:
        for sink in self._sinks.values():
            with contextlib.suppress(Exception):  # after a failure: the directory is removed anyway
                sink.close()
