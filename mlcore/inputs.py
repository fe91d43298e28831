"""Checks of a run's inputs that need no torch, so the entry point answers a bad path in milliseconds."""

from __future__ import annotations

import os
from pathlib import Path

DATA_FORMATS = {".jsonl": "json", ".json": "json", ".ndjson": "json", ".parquet": "parquet"}


class TrainingInputError(ValueError):
    """Something the person who started the run can fix (a path, a file, a column); the message says what."""


def hub_offline() -> bool:
    # huggingface_hub reads HF_HUB_OFFLINE once at import; a worker may set it later, so read it again.
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").upper()
    return bool(constants.HF_HUB_OFFLINE) or flag in {"1", "ON", "YES", "TRUE"}


def resolve_base_model(name: str) -> str:
    """A directory as is; a hub id only when it can be had (from the cache when offline)."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TrainingInputError(
                f"base model directory '{name}' has no config.json, so it is not a saved model"
            )
        return str(path)
    if path.exists():
        raise TrainingInputError(f"base model '{name}' is a file, not a model directory")
    looks_like_path = name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name
    if looks_like_path:
        raise TrainingInputError(f"base model '{name}' is not a directory on this worker")
    if hub_offline():
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
        if not isinstance(cached, str):
            raise TrainingInputError(
                f"base model '{name}' is not a directory on this worker and the hub is offline"
            )
    return name


def data_format(path: str) -> str:
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in {".gz", ".bz2", ".xz", ".zst"}:
        suffixes = suffixes[:-1]
    fmt = DATA_FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise TrainingInputError(f"data file '{path}' must end in .jsonl, .json or .parquet")
    return fmt


def check_data_files(train_file: str, eval_file: str | None) -> None:
    for split, path in (("train", train_file), ("eval", eval_file)):
        if path is None:
            continue
        if not Path(path).is_file():
            raise TrainingInputError(f"{split} file '{path}' does not exist on this worker")
        data_format(path)
