"""Pre-labeling a task with images: a model the project says accepts images gets each one as an OpenAI
image part (the stored file as a data URI) where its placeholder was; any other model gets the text only."""

from __future__ import annotations

import base64

import pytest

from app.core.db import session_scope
from app.imports.service import import_inline
from app.prelabel.job import run_prelabel_job
from app.web.llm_stub import StubServer
from tests import factories
from tests.prelabel.conftest import project_with_tasks, start, suggestions_of

PNG = factories.image_bytes("PNG", (30, 20), (90, 10, 200))
URI = "data:image/png;base64," + base64.b64encode(PNG).decode()


@pytest.mark.parametrize(("sees", "mode", "kind"), [(True, "draft", "sft"), (True, "label", "classification"),
                                                    (False, "draft", "sft")])  # fmt: skip
def test_a_model_that_accepts_images_gets_them_as_image_parts(
    llm: StubServer, sees: bool, mode: str, kind: str
) -> None:
    with session_scope() as s:
        project, lead = project_with_tasks(s, llm, kind=kind, n=0, images=sees)
        row = {"prompt": [{"role": "user", "content": "What colour is <image> this?"}], "images": [URI]}
        import_inline(s, project=project, raw_rows=[(1, row)])
        job_id = start(s, project, lead, mode=mode)
    assert run_prelabel_job(job_id) == "succeeded"
    assert llm.state.images == ([URI] if sees else [])
    (sent,) = llm.state.prompts
    assert "What colour is" in sent and ("<image>" in sent) is (not sees)  # the image took its place
    assert len(suggestions_of(job_id)) == 1
