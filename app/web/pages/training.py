"""Training pages: start a run (admins), the models and their lineage."""

from __future__ import annotations

from typing import Any, NamedTuple

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from app.auth.policies import readable_models
from app.core.errors import PreflabError
from app.models import Job, Project, Snapshot, TrainedModel
from app.training.schemas import FORMAT_FOR, LORA_HYPERPARAMETERS, TRAIN_HYPERPARAMETERS, TrainingRequest
from app.training.service import models_dir, start_training, trainable_snapshots
from app.web.deps import AdminUser, CurrentUser, ModelDep, SessionDep
from app.web.pages.deps import FormDep
from app.web.templating import render
from mlcore.hyperparameters import DeclaredHyperparameter

router = APIRouter()
DEMO_MODEL = "demo-tiny-llama"


class FormInput(NamedTuple):
    """The form field of one declared hyper-parameter: an input, or a select when it has choices."""

    parameter: str
    name: str
    label: str
    placeholder: str  # the default, so an empty field says what it will get
    hint: str
    inputmode: str
    choices: tuple[Any, ...]


def _form_inputs(declared: tuple[DeclaredHyperparameter, ...], prefix: str = "") -> list[FormInput]:
    inputs = []
    for parameter in declared:
        described, default = parameter.description, parameter.defaults_in_words()
        methods = f" ({', '.join(m.upper() for m in described.methods)})" if described.methods else ""
        inputs.append(
            FormInput(
                parameter=parameter.name,
                name=prefix + parameter.name,
                label=described.label + methods,
                placeholder=default,
                hint=f"{described.help}; default {default}",
                inputmode="decimal" if parameter.numeric else "",
                choices=parameter.choices,
            )
        )
    return inputs


LORA_INPUTS = _form_inputs(LORA_HYPERPARAMETERS, prefix="lora_")
HYPERPARAMETER_INPUTS = _form_inputs(TRAIN_HYPERPARAMETERS)


def _form_page(
    request: Request,
    session: SessionDep,
    *,
    form: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    snapshots = trainable_snapshots(session)
    demo = models_dir() / DEMO_MODEL
    ctx = {
        "snapshots": snapshots,
        "methods": FORMAT_FOR,
        "demo_model": str(demo.resolve()) if demo.is_dir() else "",
        "form": form,
        "error": error,
        "lora_inputs": LORA_INPUTS,
        "hyperparameter_inputs": HYPERPARAMETER_INPUTS,
    }
    return render(request, "training/new.html", ctx, status_code=status_code)


@router.get("/training/new")
def new_run(
    request: Request, admin: AdminUser, session: SessionDep, snapshot_id: int | None = None
) -> Response:
    return _form_page(request, session, form={"snapshot_id": str(snapshot_id or "")})


def _filled(form: dict[str, str], inputs: list[FormInput]) -> dict[str, str]:
    """The fields given a value, by parameter name: an empty one takes its default."""
    return {i.parameter: form[i.name].strip() for i in inputs if form.get(i.name, "").strip()}


@router.post("/training/new")
def start_run(request: Request, admin: AdminUser, session: SessionDep, form: FormDep) -> Response:
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    lora = _filled(values, LORA_INPUTS) if values.get("lora") == "on" else None
    try:
        body = TrainingRequest.model_validate(
            {
                "snapshot_id": values.get("snapshot_id"),
                "method": values.get("method"),
                "base_model": values.get("base_model", "").strip(),
                "base_model_on_worker": values.get("base_model_on_worker") == "on",
                "lora": lora,
                "distributed": values.get("distributed") or "auto",
                "params": _filled(values, HYPERPARAMETER_INPUTS),
            }
        )
        job = start_training(session, request=body, user=admin)
    except ValidationError as exc:
        message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _form_page(request, session, form=values, error=message, status_code=422)
    except PreflabError as exc:
        return _form_page(request, session, form=values, error=exc.message, status_code=422)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/models")
def models_page(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    models = list(session.scalars(readable_models(user).order_by(TrainedModel.id.desc()).limit(500)))
    return render(request, "training/models.html", {"models": models})


@router.get("/models/{mid}")
def model_page(request: Request, model: ModelDep, session: SessionDep) -> Response:
    snapshot = session.get(Snapshot, model.snapshot_id) if model.snapshot_id else None
    project = session.get(Project, snapshot.project_id) if snapshot else None
    job = session.get(Job, model.job_id) if model.job_id else None
    return render(
        request, "training/model.html", {"model": model, "snapshot": snapshot, "project": project, "job": job}
    )
