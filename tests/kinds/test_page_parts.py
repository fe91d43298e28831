"""Every kind brings its own page parts (tests/test_structure.py checks that the pages never name a kind)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.kinds import all_kinds

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", all_kinds(), ids=lambda k: k.name)
def test_each_kind_has_its_templates_and_annotate_script(kind) -> None:  # type: ignore[no-untyped-def]
    templates = ROOT / "templates"
    for part in ("annotate", "review"):
        assert (templates / kind.template(part)).is_file(), part
    assert (templates / kind.template("prelabel")).is_file() == (kind.review_mode is not None)
    script = (ROOT / "static" / kind.script).read_text()
    assert f"(window.annotateKinds ||= {{}}).{kind.page_kind} =" in script  # a chat turn is shown as pairwise
