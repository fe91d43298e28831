"""Prompt templates per project and mode: versioned rows (an edit adds a version; a suggestion names the
version it came from), rendered with Jinja2's sandbox so a lead's template cannot reach Python objects.

Variables: `prompt_text` (the prompt, a conversation as a transcript), `messages` (a chat prompt's
messages), `responses` (each with `label` A, B, …, `id`, `text`, `model`), `labels`, `multi_label`,
`allow_ties`, `criteria`, `instructions`, `meta`, `external_id`. For generate and draft a plain-text
prompt is sent as the rendered body; a chat prompt is sent as its own conversation, with the system
prompt first when it has none."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput
from app.models import Project, PromptTemplate, User
from app.prelabel.sandbox import LimitedSandbox

_GUIDELINES = "{% if instructions %}Guidelines:\n{{ instructions }}\n\n{% endif %}"

DEFAULTS: dict[str, tuple[str, str]] = {
    "label": (
        "You label texts for a data-labeling project. Follow the guidelines and answer in JSON.",
        _GUIDELINES + "Choose {{ 'one or more labels' if multi_label else 'exactly one label' }} from: "
        "{{ labels | join(', ') }}.\nAlso give your confidence from 0 to 1.\n\nText:\n{{ prompt_text }}",
    ),
    "judge": (
        "You are an impartial judge of AI assistant responses. Judge quality only: the order in which "
        "responses are shown and their length must not sway you.",
        _GUIDELINES + "Conversation:\n{{ prompt_text }}\n\n"
        "{% for r in responses %}Response {{ r.label }}:\n{{ r.text }}\n\n{% endfor %}"
        "{% if responses | length == 2 %}Which response is better?"
        "{% if allow_ties %} Answer tie only if they are equally good.{% endif %}"
        "{% else %}Rank the responses from best to worst.{% endif %}"
        " Give a short rationale and your confidence from 0 to 1.",
    ),
    "draft": ("You are a helpful, honest and harmless assistant.", "{{ prompt_text }}"),
    "generate": ("You are a helpful, honest and harmless assistant.", "{{ prompt_text }}"),
}

_env = LimitedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@dataclass(frozen=True)
class Compiled:
    version: int
    system: str
    body: str

    def render(self, context: dict[str, Any]) -> tuple[str, str]:
        """(system, user) text; InvalidInput naming the template's problem."""
        try:
            system = _env.render(_compiled(self.system), context).strip()
            return system, _env.render(_compiled(self.body), context).strip()
        except TemplateError as exc:
            raise InvalidInput(f"template v{self.version}: {exc}") from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            # what Python raises inside a template (1/0, int('x'), …) is the template's error too
            raise InvalidInput(f"template v{self.version}: {type(exc).__name__}: {exc}") from None


@lru_cache(maxsize=64)
def _compiled(source: str) -> Template:
    """Compiling costs about a millisecond; a job renders the same template for every task."""
    return _env.from_string(_env.prepare(_env.parse(source)))


def prompt_text(prompt: Any) -> str:
    if isinstance(prompt, list):
        return "\n\n".join(f"{str(m.get('role', '')).capitalize()}: {m.get('content', '')}" for m in prompt)
    return str(prompt)


def sample_context(project: Project) -> dict[str, Any]:
    """What a template sees, for a made-up task: saving checks that a template renders."""
    return {
        "prompt_text": "User: What is the capital of France?",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "responses": [
            {"label": "A", "id": "a", "text": "Paris.", "model": None},
            {"label": "B", "id": "b", "text": "Lyon.", "model": None},
        ],
        "labels": list(project.settings.get("labels") or []),
        "multi_label": bool(project.settings.get("multi_label")),
        "allow_ties": bool(project.settings.get("allow_ties", True)),
        "criteria": list(project.settings.get("criteria") or []),
        "instructions": project.instructions,
        "meta": {},
        "external_id": "sample",
    }


def check(system: str, body: str, project: Project) -> tuple[str, str]:
    """The template rendered against a sample task; InvalidInput with the line when it does not render."""
    try:
        _compiled(system)
        _compiled(body)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise InvalidInput(f"the template does not parse{f' (line {line})' if line else ''}: {exc}") from None
    return Compiled(0, system, body).render(sample_context(project))


def versions(session: Session, project: Project, mode: str) -> list[PromptTemplate]:
    return list(
        session.scalars(
            select(PromptTemplate)
            .where(PromptTemplate.project_id == project.id, PromptTemplate.mode == mode)
            .order_by(PromptTemplate.version.desc())
        )
    )


def latest(session: Session, project: Project, mode: str) -> PromptTemplate | None:
    return session.scalars(
        select(PromptTemplate)
        .where(PromptTemplate.project_id == project.id, PromptTemplate.mode == mode)
        .order_by(PromptTemplate.version.desc())
        .limit(1)
    ).first()


def save(
    session: Session, *, project: Project, mode: str, system: str, body: str, user: User | None
) -> PromptTemplate:
    """A new version of the mode's template (an unchanged template keeps its version)."""
    check(system, body, project)
    current = latest(session, project, mode)
    if current is not None and current.system == system and current.body == body:
        return current
    # Number under the project's row lock (SQLite's write transaction is already exclusive).
    session.execute(select(Project.id).where(Project.id == project.id).with_for_update())
    top = session.scalar(
        select(func.max(PromptTemplate.version)).where(
            PromptTemplate.project_id == project.id, PromptTemplate.mode == mode
        )
    )
    row = PromptTemplate(
        project_id=project.id,
        mode=mode,
        version=(top or 0) + 1,
        system=system,
        body=body,
        created_by_id=user.id if user else None,
    )
    session.add(row)
    session.flush()
    return row


def current(session: Session, *, project: Project, mode: str, user: User | None) -> PromptTemplate:
    """The mode's latest version; the built-in default is stored as version 1 the first time it is used,
    so every suggestion names a stored version."""
    row = latest(session, project, mode)
    if row is not None:
        return row
    system, body = DEFAULTS[mode]
    return save(session, project=project, mode=mode, system=system, body=body, user=user)
