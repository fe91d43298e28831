"""The audit log: who exported, trained, imported, changed roles or deleted what (DESIGN §9)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import AuditEvent


def record(
    session: Session,
    action: str,
    *,
    user_id: int | None,
    target: tuple[str, object] | None = None,
    project_id: int | None = None,
    **details: Any,
) -> None:
    target_type, target_id = target if target is not None else ("", "")
    session.add(
        AuditEvent(
            user_id=user_id,
            project_id=project_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            details=details,
        )
    )
