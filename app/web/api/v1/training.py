"""Training runs and the models they produce (DESIGN §10)."""

from __future__ import annotations

from fastapi import APIRouter

from app.auth.policies import readable_models
from app.jobs.schemas import JobAccepted
from app.models import TrainedModel
from app.training.schemas import ModelRead, TrainingRequest
from app.training.service import start_training
from app.web.api.v1.pagination import Cursor, Limit, Page, page_of
from app.web.deps import AdminUser, CurrentUser, ModelDep, SessionDep

router = APIRouter(tags=["training"])


@router.post("/training-jobs", status_code=202)
def create_training_job(body: TrainingRequest, admin: AdminUser, session: SessionDep) -> JobAccepted:
    return JobAccepted(job_id=start_training(session, request=body, user=admin).id)


@router.get("/models")
def list_models(
    user: CurrentUser, session: SessionDep, cursor: Cursor = None, limit: Limit = 50
) -> Page[ModelRead]:
    page = page_of(session, readable_models(user), TrainedModel.id, cursor=cursor, limit=limit)
    return Page(items=[ModelRead.model_validate(m) for m in page.items], next_cursor=page.next_cursor)


@router.get("/models/{mid}")
def get_model(model: ModelDep) -> ModelRead:
    return ModelRead.model_validate(model)
