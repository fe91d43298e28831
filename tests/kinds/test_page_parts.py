"""Every kind brings its own page parts, and the pages themselves never name a kind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.kinds import all_kinds

ROOT = Path(__file__).resolve().parents[2]
# The acceptance check of issue 13, for templates and scripts.
BRANCHING = re.compile(r"ProjectKind\.|kind (==|!=|===|!==|in |not in |is )|\{%[^%]*kind")


@pytest.mark.parametrize("kind", all_kinds(), ids=lambda k: k.name)
def test_each_kind_has_its_templates_and_annotate_script(kind) -> None:  # type: ignore[no-untyped-def]
    templates = ROOT / "templates"
    for part in ("annotate", "review"):
        assert (templates / kind.template(part)).is_file(), part
    assert (templates / kind.template("prelabel")).is_file() == kind.suggests_answers
    script = (ROOT / "static" / kind.script).read_text()
    assert f"(window.annotateKinds ||= {{}}).{kind.name} =" in script


def test_no_template_or_script_branches_on_a_kind() -> None:
    scripts = (p for p in (ROOT / "static").rglob("*.js") if "vendor" not in p.parts)
    files = [*(ROOT / "templates").rglob("*.html"), *scripts]
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in files
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if BRANCHING.search(line)
    ]
    assert found == []
