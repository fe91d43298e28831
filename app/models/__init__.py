"""Every table, importable from one place (Alembic's target_metadata is Base.metadata)."""

from app.models.annotation import Annotation, AnnotationRevision, Review
from app.models.base import Base, utcnow
from app.models.job import FINISHED, Job, JobMetric
from app.models.llm import LlmCacheEntry, PromptTemplate
from app.models.loop import Round
from app.models.project import Member, Project, ProjectStats, Role
from app.models.snapshot import AuditEvent, Snapshot, TrainedModel
from app.models.task import Assignment, Suggestion, Task, TaskFlag
from app.models.user import ApiToken, LoginAttempt, User

__all__ = [
    "FINISHED",
    "Annotation",
    "AnnotationRevision",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "Base",
    "Job",
    "JobMetric",
    "LlmCacheEntry",
    "LoginAttempt",
    "Member",
    "Project",
    "ProjectStats",
    "PromptTemplate",
    "Review",
    "Role",
    "Round",
    "Snapshot",
    "Suggestion",
    "Task",
    "TaskFlag",
    "TrainedModel",
    "User",
    "utcnow",
]
