from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from app.models import Annotation, Project, Role, Task, User
from tests import factories


@dataclass
class Team:
    project: Project
    lead: User
    reviewer: User
    ann1: User
    ann2: User
    outsider: User
    task: Task  # answered by ann1 and ann2
    other_task: Task  # nobody's yet
    a1: Annotation
    a2: Annotation


@pytest.fixture
def team(db: Session) -> Team:
    lead = factories.make_user(db, email="lena@example.test", name="Lena Lead")
    reviewer = factories.make_user(db, email="rita@example.test", name="Rita Review")
    ann1 = factories.make_user(db, email="ann1@example.test", name="Ann One")
    ann2 = factories.make_user(db, email="ann2@example.test", name="Ann Two")
    outsider = factories.make_user(db, email="out@example.test", name="Otto Out")
    project = factories.make_project(db, lead=lead)
    factories.add_member(db, project, reviewer, Role.reviewer)
    factories.add_member(db, project, ann1, Role.annotator)
    factories.add_member(db, project, ann2, Role.annotator)
    task, other = factories.make_tasks(db, project, 2)
    a1 = factories.make_annotation(db, task, ann1)
    a2 = factories.make_annotation(db, task, ann2)
    return Team(project, lead, reviewer, ann1, ann2, outsider, task, other, a1, a2)
