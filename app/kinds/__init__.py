"""The project-kind registry: everything that differs by kind lives in the kind's module here.

Adding a kind means a module here (a class following protocol.Kind, registered below), its templates in
templates/kinds/<name>/ and its script in static/kinds/<name>.js; nothing else in the tree changes."""

from __future__ import annotations

from typing import Any

from app.kinds.base import KindBase
from app.kinds.chat import Chat
from app.kinds.classification import Classification
from app.kinds.pairwise import Pairwise
from app.kinds.protocol import Kind
from app.kinds.ranking import Ranking
from app.kinds.rating import Rating
from app.kinds.sft import Sft
from app.kinds.trajectory import Trajectory

_KINDS: dict[str, KindBase] = {
    k.name: k for k in (Pairwise(), Ranking(), Rating(), Sft(), Classification(), Chat(), Trajectory())
}
# mypy checks that each kind conforms to the Protocol
_CONFORM: tuple[Kind, ...] = (Pairwise(), Ranking(), Rating(), Sft(), Classification(), Chat(), Trajectory())

KIND_NAMES: tuple[str, ...] = tuple(_KINDS)


def get_kind(name: Any) -> KindBase:
    """The kind called `name`; KeyError for an unknown one."""
    return _KINDS[str(name)]


def kind_of(project: Any) -> KindBase:
    """The kind of a project (anything with a `kind`)."""
    return _KINDS[str(project.kind)]


def all_kinds() -> list[KindBase]:
    return list(_KINDS.values())


__all__ = ["KIND_NAMES", "Kind", "KindBase", "all_kinds", "get_kind", "kind_of"]
