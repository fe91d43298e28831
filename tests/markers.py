"""Markers that follow from where a test lives or which fixtures it asks for, so that modules need not
repeat them (they are declared in pyproject.toml). The Makefile's two passes select with them:
SQLite runs `not training`, PostgreSQL runs `not no_db`."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

# tests/<directory>/… → markers for every test in it
DIRECTORY_MARKERS: dict[str, tuple[str, ...]] = {
    "mlcore": ("no_db",),
    "browser": ("browser",),
    "training": ("training", "needs_worker"),
}

# a test that asks for one of these fixtures starts that process
FIXTURE_MARKERS: dict[str, tuple[str, ...]] = {
    "celery_worker": ("needs_worker",),
    "gpu_worker": ("training", "needs_worker"),
}


def _markers_for(item: pytest.Item) -> set[str]:
    names: set[str] = set()
    if item.path.is_relative_to(TESTS):
        parts = item.path.relative_to(TESTS).parts
        if len(parts) > 1:
            names.update(DIRECTORY_MARKERS.get(parts[0], ()))
    for fixture in getattr(item, "fixturenames", ()):
        names.update(FIXTURE_MARKERS.get(fixture, ()))
    return names


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for name in sorted(_markers_for(item) - {mark.name for mark in item.iter_markers()}):
            item.add_marker(name)
