"""Every table, importable from one place (Alembic's target_metadata is Base.metadata)."""

from app.models.account import InstanceSetting, Invite, PasswordReset
from app.models.annotation import Annotation, AnnotationRevision, Review
from app.models.base import Base, utcnow
from app.models.chat import ChatTurn, Conversation
from app.models.comment import Comment, Notification
from app.models.credential import Credential
from app.models.figures import ProjectAnnotator, ProjectCount, ProjectGame, StaleTask, TaskFigures, TaskGame
from app.models.job import FINISHED, Job, JobMetric
from app.models.llm import LlmCacheEntry, PromptTemplate
from app.models.loop import Round
from app.models.media import ProjectImage
from app.models.project import Member, Project, ProjectStats, Role
from app.models.snapshot import AuditEvent, Snapshot, TrainedModel
from app.models.task import Assignment, Suggestion, Task, TaskFlag
from app.models.user import ApiToken, LoginThrottle, User

__all__ = [
    "FINISHED",
    "Annotation",
    "AnnotationRevision",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "Base",
    "ChatTurn",
    "Comment",
    "Conversation",
    "Credential",
    "InstanceSetting",
    "Invite",
    "Job",
    "JobMetric",
    "LlmCacheEntry",
    "LoginThrottle",
    "Member",
    "Notification",
    "PasswordReset",
    "Project",
    "ProjectAnnotator",
    "ProjectCount",
    "ProjectGame",
    "ProjectImage",
    "ProjectStats",
    "PromptTemplate",
    "Review",
    "Role",
    "Round",
    "Snapshot",
    "StaleTask",
    "Suggestion",
    "Task",
    "TaskFigures",
    "TaskFlag",
    "TaskGame",
    "TrainedModel",
    "User",
    "utcnow",
]
