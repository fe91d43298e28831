"""First start: an admin whose password is printed once, and a demo project per kind (the chat demo's
endpoint is the stub server `preflab serve` runs beside it)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.service import create_user
from app.imports.service import import_inline
from app.models import User
from app.projects.schemas import ProjectCreate
from app.projects.service import create_project

DEMO_DIR = Path(__file__).resolve().parent
ADMIN_EMAIL = "admin@preflab.local"


def needs_seed(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(User))


def seed_demo(session: Session, *, admin_password: str | None = None) -> tuple[str, str]:
    """Create the admin and the demo projects; returns (email, password)."""
    password = admin_password or secrets.token_urlsafe(12)
    admin = create_user(session, email=ADMIN_EMAIL, password=password, name="Admin", is_admin=True)
    for spec in json.loads((DEMO_DIR / "projects.json").read_text()):
        project = create_project(
            session,
            user=admin,
            data=ProjectCreate(
                name=spec["name"],
                kind=spec["kind"],
                instructions=spec["instructions"],
                settings=spec["settings"],
            ),
        )
        if spec.get("llm"):  # the chat demo talks to the stub `preflab serve` starts (app/web/llm_stub.py)
            project.llm = spec["llm"]
        if not spec.get("file"):  # a chat project's tasks come from its conversations
            continue
        lines = (DEMO_DIR / spec["file"]).read_bytes().splitlines()
        rows = ((n, orjson.loads(line)) for n, line in enumerate(lines, 1))
        import_inline(session, project=project, raw_rows=rows, actor_id=admin.id, source="demo seed")
    return ADMIN_EMAIL, password


def seed_demo_model(models_dir: Path) -> Path | None:
    """A tiny random Llama the embedded worker trains on a CPU in seconds (the train extra is needed)."""
    target = models_dir / "demo-tiny-llama"
    if (target / "config.json").exists():
        return target
    try:
        from mlcore.tiny import build_tiny_model
    except ImportError:  # installed without the train extra
        return None
    return build_tiny_model(target)
