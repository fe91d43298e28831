"""Every route the app serves, for every kind of caller (DESIGN §3).

ROUTES must name every route, so a new route fails this test until its rule is written down here.
Expected: anonymous → 401 (API) or a redirect to /login (pages); non-member → 404; a role below the
route's → 403; the route's role and above (and admins) → served."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth import accounts, invites
from app.main import create_app, iter_routes
from app.models import ChatTurn, Comment, Conversation, Notification, Role
from tests import factories
from tests.conftest import csrf_of, sign_in

PUBLIC, AUTH, ADMIN = "public", "authenticated", "admin"
ANNOTATOR, REVIEWER, LEAD = Role.annotator, Role.reviewer, Role.lead


@dataclass(frozen=True)
class Rule:
    need: Any
    body: Any = None  # json for /api, form data for pages (json too when json=True)
    files: bool = False
    json: bool = False
    uuid: str = "new"  # which annotation {uuid} names: new, own (the caller's), other (another member's)
    worked: bool = False  # {tid} names a task the caller answered (an annotator discusses only those)
    chat: str | None = None  # a chat project: {conv_id} is the caller's conversation, {turn_id} its turn
    # in this state: "ready" (both replies in), "failed" (the second failed), "picked"


ROUTES: dict[tuple[str, str], Rule] = {
    # public
    ("GET", "/healthz"): Rule(PUBLIC),
    ("GET", "/readyz"): Rule(PUBLIC),
    ("GET", "/favicon.ico"): Rule(PUBLIC),
    ("GET", "/api/v1/openapi.json"): Rule(PUBLIC),
    ("GET", "/api/docs"): Rule(PUBLIC),
    ("GET", "/static"): Rule(PUBLIC),
    ("GET", "/login"): Rule(PUBLIC),
    ("POST", "/login"): Rule(PUBLIC),
    ("POST", "/logout"): Rule(PUBLIC),
    # the links an admin hands over (accounts)
    ("GET", "/invite/{invite_token}"): Rule(PUBLIC),
    ("POST", "/invite/{invite_token}"): Rule(
        PUBLIC, {"email": "invitee@example.com", "name": "N", "password": "n" * 9, "repeat_password": "n" * 9}
    ),
    ("GET", "/reset/{reset_token}"): Rule(PUBLIC),
    ("POST", "/reset/{reset_token}"): Rule(PUBLIC, {"password": "n" * 9, "repeat_password": "n" * 9}),
    # any signed-in user
    ("GET", "/api/v1/me"): Rule(AUTH),
    ("GET", "/api/v1/tokens"): Rule(AUTH),
    ("POST", "/api/v1/tokens"): Rule(AUTH, {"name": "script"}),
    ("DELETE", "/api/v1/tokens/{token_id}"): Rule(AUTH),
    ("GET", "/api/v1/projects"): Rule(AUTH),
    ("GET", "/"): Rule(AUTH),
    ("GET", "/account"): Rule(AUTH),
    ("POST", "/account/tokens"): Rule(AUTH, {"name": "x"}),
    ("POST", "/account/tokens/{token_id}/revoke"): Rule(AUTH, {}),
    ("POST", "/account/password"): Rule(
        AUTH, {"current_password": factories.PASSWORD, "new_password": "n" * 9, "repeat_password": "n" * 9}
    ),
    # admins
    ("GET", "/api/v1/users"): Rule(ADMIN),
    ("POST", "/api/v1/users"): Rule(ADMIN, {"email": "new@example.com", "password": "long enough pw"}),
    ("POST", "/api/v1/projects"): Rule(ADMIN, {"name": "New", "kind": "rating"}),
    ("GET", "/admin/users"): Rule(ADMIN),
    ("POST", "/admin/users"): Rule(ADMIN, {"email": "new@example.com", "password": "long enough pw"}),
    ("POST", "/api/v1/users/{user_id}/deactivate"): Rule(ADMIN),
    ("POST", "/api/v1/users/{user_id}/reactivate"): Rule(ADMIN),
    ("POST", "/api/v1/users/{user_id}/password-reset"): Rule(ADMIN),
    ("GET", "/api/v1/invites"): Rule(ADMIN),
    ("POST", "/api/v1/invites"): Rule(ADMIN, {"project_id": "{pid}"}),
    ("DELETE", "/api/v1/invites/{invite_id}"): Rule(ADMIN),
    ("GET", "/api/v1/instance-settings"): Rule(ADMIN),
    ("PATCH", "/api/v1/instance-settings"): Rule(ADMIN, {"non_admins_create_projects": False}),
    ("POST", "/admin/users/{user_id}/deactivate"): Rule(ADMIN, {}),
    ("POST", "/admin/users/{user_id}/reactivate"): Rule(ADMIN, {}),
    ("POST", "/admin/users/{user_id}/password-reset"): Rule(ADMIN, {}),
    ("POST", "/admin/invites"): Rule(ADMIN, {"email": "invitee@example.com"}),
    ("POST", "/admin/invites/{invite_id}/revoke"): Rule(ADMIN, {}),
    ("GET", "/admin/settings"): Rule(ADMIN),
    ("POST", "/admin/settings"): Rule(ADMIN, {}),
    ("GET", "/api/v1/credentials"): Rule(ADMIN),
    ("POST", "/api/v1/credentials"): Rule(
        ADMIN, {"name": "new", "env_var": "NEW_API_KEY", "hosts": ["10.0.0.9"]}
    ),
    ("GET", "/api/v1/credentials/{credential_id}"): Rule(ADMIN),
    ("PATCH", "/api/v1/credentials/{credential_id}"): Rule(ADMIN, {"hosts": ["10.0.0.9"]}),
    ("DELETE", "/api/v1/credentials/{credential_id}"): Rule(ADMIN),
    ("GET", "/admin/credentials"): Rule(ADMIN),
    ("POST", "/admin/credentials"): Rule(
        ADMIN, {"name": "new", "env_var": "NEW_API_KEY", "hosts": "10.0.0.9"}
    ),
    ("POST", "/admin/credentials/{credential_id}"): Rule(
        ADMIN, {"env_var": "NEW_API_KEY", "hosts": "10.0.0.9"}
    ),
    ("POST", "/admin/credentials/{credential_id}/delete"): Rule(ADMIN, {}),
    ("GET", "/projects/new"): Rule(ADMIN),
    ("POST", "/projects/new"): Rule(ADMIN, {"name": "New", "kind": "sft"}),
    # project roles
    ("GET", "/api/v1/projects/{pid}"): Rule(ANNOTATOR),
    ("PATCH", "/api/v1/projects/{pid}"): Rule(LEAD, {"name": "Renamed"}),
    ("DELETE", "/api/v1/projects/{pid}"): Rule(LEAD),
    ("GET", "/api/v1/projects/{pid}/members"): Rule(LEAD),
    ("PUT", "/api/v1/projects/{pid}/members/{user_id}"): Rule(LEAD, {"role": "reviewer"}),
    ("DELETE", "/api/v1/projects/{pid}/members/{user_id}"): Rule(LEAD),
    ("POST", "/api/v1/projects/{pid}/imports"): Rule(LEAD, files=True),
    ("POST", "/api/v1/projects/{pid}/tasks"): Rule(LEAD, [{"prompt": "p", "responses": ["a", "b"]}]),
    ("GET", "/api/v1/projects/{pid}/tasks"): Rule(REVIEWER),
    ("GET", "/api/v1/tasks/{tid}"): Rule(ANNOTATOR),
    ("GET", "/api/v1/jobs/{jid}"): Rule(LEAD),
    ("GET", "/api/v1/jobs/{jid}/metrics"): Rule(LEAD),
    ("POST", "/api/v1/jobs/{jid}/cancel"): Rule(LEAD),
    ("GET", "/projects/{pid}"): Rule(ANNOTATOR),
    ("GET", "/projects/{pid}/tasks"): Rule(REVIEWER),
    # the data manager: reviewers see the grid and open tasks; bulk actions and exports are the leads'
    ("GET", "/projects/{pid}/tasks/{tid}"): Rule(REVIEWER),
    ("GET", "/projects/{pid}/images/{sha256}"): Rule(ANNOTATOR),
    ("POST", "/projects/{pid}/tasks/bulk"): Rule(LEAD, {"action": "requeue", "more": "1", "scope": "filter"}),
    ("POST", "/projects/{pid}/tasks/export"): Rule(LEAD, {"scope": "filter"}),
    ("POST", "/api/v1/projects/{pid}/tasks/bulk"): Rule(LEAD, {"action": "requeue", "filter": {}}),
    ("POST", "/api/v1/projects/{pid}/tasks/export"): Rule(LEAD, {"filter": {"status": ["open"]}}),
    ("GET", "/projects/{pid}/settings"): Rule(LEAD),
    ("POST", "/projects/{pid}/settings"): Rule(LEAD, {"name": "Renamed", "overlap": "2"}),
    ("POST", "/projects/{pid}/archive"): Rule(LEAD, {}),
    ("GET", "/projects/{pid}/members"): Rule(LEAD),
    ("POST", "/projects/{pid}/members"): Rule(LEAD, {"user_id": "{other_id}", "role": "annotator"}),
    ("POST", "/projects/{pid}/members/{user_id}/remove"): Rule(LEAD, {}),
    ("GET", "/projects/{pid}/import"): Rule(LEAD),
    ("POST", "/projects/{pid}/import"): Rule(LEAD, files=True),
    ("GET", "/jobs/{jid}"): Rule(LEAD),
    # no ids: an empty comparison; each id it names is checked as /jobs/{jid} is (see test_charts.py)
    ("GET", "/jobs/compare"): Rule(AUTH),
    ("POST", "/jobs/{jid}/cancel"): Rule(LEAD, {}),
    # annotating
    ("POST", "/api/v1/projects/{pid}/next"): Rule(ANNOTATOR),
    ("POST", "/api/v1/assignments/{aid}/skip"): Rule(ANNOTATOR, {"reason": "unsure"}),
    ("PUT", "/api/v1/annotations/{uuid}"): Rule(
        ANNOTATOR, {"task_id": "{tid}", "result": {"choice": "a", "strength": 1}}
    ),
    ("PATCH", "/api/v1/annotations/{uuid}"): Rule(
        ANNOTATOR, {"result": {"choice": "b", "strength": 0}}, uuid="own"
    ),
    ("GET", "/api/v1/annotations/{uuid}"): Rule(REVIEWER, uuid="other"),
    ("GET", "/api/v1/projects/{pid}/annotations"): Rule(REVIEWER),
    ("POST", "/api/v1/tasks/{tid}/flags"): Rule(ANNOTATOR, {"reason": "unclear", "comment": "?"}),
    ("GET", "/api/v1/projects/{pid}/flags"): Rule(LEAD),
    ("POST", "/api/v1/projects/{pid}/flags/{fid}/resolve"): Rule(LEAD),
    ("GET", "/projects/{pid}/annotate"): Rule(ANNOTATOR),
    ("POST", "/projects/{pid}/annotate/submit"): Rule(
        ANNOTATOR,
        {"uuid": "{new_uuid}", "task_id": "{tid}", "result": {"choice": "a", "strength": 1}},
        json=True,
    ),
    ("POST", "/projects/{pid}/annotate/edit"): Rule(
        ANNOTATOR, {"uuid": "{own_uuid}", "result": {"choice": "b", "strength": 2}}, json=True
    ),
    ("POST", "/projects/{pid}/annotate/skip"): Rule(ANNOTATOR, {"assignment_id": "{aid}"}, json=True),
    ("POST", "/projects/{pid}/annotate/flag"): Rule(
        ANNOTATOR, {"task_id": "{tid}", "reason": "broken"}, json=True
    ),
    ("POST", "/projects/{pid}/flags/{fid}/resolve"): Rule(LEAD, {}),
    # live chats (a chat project; the conversation is the caller's own)
    ("GET", "/projects/{pid}/chat"): Rule(ANNOTATOR, chat="ready"),
    ("POST", "/projects/{pid}/chat"): Rule(ANNOTATOR, {}, chat="ready"),
    ("GET", "/projects/{pid}/chat/{conv_id}"): Rule(ANNOTATOR, chat="ready"),
    ("POST", "/projects/{pid}/chat/{conv_id}/send"): Rule(
        ANNOTATOR, {"uuid": "{new_uuid}", "text": "Hello"}, json=True, chat="picked"
    ),
    ("POST", "/projects/{pid}/chat/{conv_id}/turns/{turn_id}/pick"): Rule(
        ANNOTATOR, {"result": {"choice": "c1", "strength": 1}}, json=True, chat="ready"
    ),
    ("POST", "/projects/{pid}/chat/{conv_id}/turns/{turn_id}/retry"): Rule(
        ANNOTATOR, {"slot": 1}, json=True, chat="failed"
    ),
    ("POST", "/projects/{pid}/chat/{conv_id}/turns/{turn_id}/continue"): Rule(
        ANNOTATOR, {"candidate": "c1"}, json=True, chat="failed"
    ),
    ("POST", "/projects/{pid}/chat/{conv_id}/turns/{turn_id}/cancel"): Rule(
        ANNOTATOR, {}, json=True, chat="ready"
    ),
    ("POST", "/projects/{pid}/chat/{conv_id}/turns/{turn_id}/branch"): Rule(
        ANNOTATOR, {}, json=True, chat="picked"
    ),
    # exports
    ("POST", "/api/v1/projects/{pid}/snapshots"): Rule(LEAD, {"format": "preference"}),
    ("GET", "/api/v1/projects/{pid}/snapshots"): Rule(LEAD),
    ("GET", "/api/v1/snapshots/{sid}"): Rule(LEAD),
    ("GET", "/api/v1/snapshots/{sid}/download"): Rule(LEAD),
    ("GET", "/api/v1/snapshots/{sid}/archive"): Rule(LEAD),
    ("DELETE", "/api/v1/snapshots/{sid}"): Rule(LEAD),
    ("GET", "/projects/{pid}/exports"): Rule(LEAD),
    ("POST", "/projects/{pid}/exports"): Rule(LEAD, {"format": "kto", "mode": "majority", "test": "0.2"}),
    ("GET", "/snapshots/{sid}"): Rule(LEAD),
    ("GET", "/snapshots/{sid}/download/{split}"): Rule(LEAD),
    ("GET", "/snapshots/{sid}/archive"): Rule(LEAD),
    ("POST", "/snapshots/{sid}/delete"): Rule(LEAD, {}),
    # training: admins start runs; models are the admins' and the leads' of the project that trained them
    ("POST", "/api/v1/training-jobs"): Rule(
        ADMIN,
        {"snapshot_id": "{sid}", "method": "reward", "base_model": "org/model", "params": {"max_steps": 1}},
    ),
    ("GET", "/api/v1/models"): Rule(AUTH),
    ("GET", "/api/v1/models/{mid}"): Rule(LEAD),
    ("GET", "/training/new"): Rule(ADMIN),
    ("POST", "/training/new"): Rule(
        ADMIN, {"snapshot_id": "{sid}", "method": "dpo", "base_model": "org/model", "max_steps": "1"}
    ),
    ("GET", "/models"): Rule(AUTH),
    ("GET", "/models/{mid}"): Rule(LEAD),
    # pre-labeling: leads configure and run it, reviewers work through the pre-labels
    ("POST", "/api/v1/projects/{pid}/prelabel"): Rule(LEAD, {"mode": "judge"}),
    ("GET", "/api/v1/projects/{pid}/prelabel/settings"): Rule(LEAD),
    ("PUT", "/api/v1/projects/{pid}/prelabel/settings"): Rule(
        LEAD, {"base_url": "http://127.0.0.1:8001/v1", "model": "stub", "credential": ""}
    ),
    ("GET", "/api/v1/projects/{pid}/prompt-templates"): Rule(LEAD),
    ("GET", "/api/v1/projects/{pid}/prompt-templates/{mode}"): Rule(LEAD),
    ("POST", "/api/v1/projects/{pid}/prompt-templates/{mode}"): Rule(LEAD, {"body": "{{ prompt_text }}"}),
    ("GET", "/api/v1/projects/{pid}/suggestions"): Rule(REVIEWER),
    ("GET", "/api/v1/projects/{pid}/prelabel/metrics"): Rule(REVIEWER),
    ("POST", "/api/v1/projects/{pid}/prelabel/review/next"): Rule(REVIEWER),
    ("POST", "/api/v1/suggestions/{suggestion_id}/review"): Rule(
        REVIEWER, {"uuid": "{new_uuid}", "action": "accept"}
    ),
    ("GET", "/projects/{pid}/prelabel"): Rule(LEAD),
    ("POST", "/projects/{pid}/prelabel"): Rule(LEAD, {"mode": "judge", "status": "open"}),
    ("POST", "/projects/{pid}/prelabel/settings"): Rule(
        LEAD, {"base_url": "http://127.0.0.1:8001/v1", "model": "m"}
    ),
    ("POST", "/projects/{pid}/prelabel/templates/{mode}"): Rule(LEAD, {"body": "{{ prompt_text }}"}),
    ("GET", "/projects/{pid}/prelabel/jobs/{jid}"): Rule(LEAD),
    ("POST", "/projects/{pid}/prelabel/jobs/{jid}/cancel"): Rule(LEAD, {}),
    ("GET", "/projects/{pid}/prelabel/metrics"): Rule(REVIEWER),
    ("GET", "/projects/{pid}/prelabel/review"): Rule(REVIEWER),
    ("POST", "/projects/{pid}/prelabel/review"): Rule(REVIEWER, {"action": "skip", "assignment_id": "{aid}"}),
    ("GET", "/projects/{pid}/annotate/suggestion/{tid}"): Rule(ANNOTATOR),
    # comments: on tasks the caller may discuss (the caller's own comment for {cid}); each user's inbox
    ("GET", "/api/v1/tasks/{tid}/comments"): Rule(ANNOTATOR, worked=True),
    ("POST", "/api/v1/tasks/{tid}/comments"): Rule(ANNOTATOR, {"body": "Is B right?"}, worked=True),
    ("PATCH", "/api/v1/comments/{cid}"): Rule(ANNOTATOR, {"body": "Is A right?", "resolved": True}),
    ("DELETE", "/api/v1/comments/{cid}"): Rule(ANNOTATOR),
    ("GET", "/api/v1/inbox"): Rule(AUTH),
    ("POST", "/api/v1/inbox/read"): Rule(AUTH, {"all": True}),
    ("GET", "/projects/{pid}/tasks/{tid}/comments"): Rule(ANNOTATOR, worked=True),
    ("POST", "/projects/{pid}/tasks/{tid}/comments"): Rule(ANNOTATOR, {"body": "Is B right?"}, worked=True),
    ("POST", "/projects/{pid}/comments/{cid}/resolve"): Rule(ANNOTATOR, {}),
    ("POST", "/projects/{pid}/comments/{cid}/delete"): Rule(ANNOTATOR, {}),
    ("GET", "/inbox"): Rule(AUTH),
    ("GET", "/inbox/{nid}"): Rule(ANNOTATOR),  # it opens a comment only a member of its project may read
    ("POST", "/inbox/read"): Rule(AUTH, {"all": "1"}),
    # review and quality
    ("POST", "/api/v1/annotations/{uuid}/reviews"): Rule(REVIEWER, {"verdict": "accept"}, uuid="other"),
    ("GET", "/api/v1/annotations/{uuid}/reviews"): Rule(REVIEWER, uuid="other"),
    ("GET", "/api/v1/projects/{pid}/review-queue"): Rule(REVIEWER),
    ("PUT", "/api/v1/tasks/{tid}/gold"): Rule(LEAD, {"gold": {"choice": "a"}}),
    ("POST", "/api/v1/projects/{pid}/members/{user_id}/resume"): Rule(LEAD),
    ("GET", "/api/v1/projects/{pid}/stats"): Rule(REVIEWER),
    ("GET", "/api/v1/projects/{pid}/my-stats"): Rule(ANNOTATOR),
    ("GET", "/projects/{pid}/review"): Rule(REVIEWER),
    ("POST", "/projects/{pid}/review"): Rule(REVIEWER, {"uuid": "{other_uuid}", "verdict": "accept"}),
    ("GET", "/projects/{pid}/review/{tid}"): Rule(REVIEWER),
    ("GET", "/projects/{pid}/review/next"): Rule(REVIEWER),
    ("POST", "/projects/{pid}/tasks/{tid}/gold"): Rule(LEAD, {}),
    ("POST", "/projects/{pid}/members/{user_id}/resume"): Rule(LEAD, {}),
    ("GET", "/projects/{pid}/dashboard"): Rule(REVIEWER),
    ("GET", "/projects/{pid}/me"): Rule(ANNOTATOR),
    ("GET", "/api/v1/projects/{pid}/leaderboard"): Rule(REVIEWER),
    ("GET", "/projects/{pid}/leaderboard"): Rule(REVIEWER),
    # closing the loop: scoring, queue order, rounds
    ("POST", "/api/v1/projects/{pid}/scoring"): Rule(LEAD, {"model_id": "{mid}"}),
    ("GET", "/api/v1/projects/{pid}/scoring"): Rule(REVIEWER),
    ("GET", "/api/v1/projects/{pid}/rounds"): Rule(REVIEWER),
    ("POST", "/api/v1/projects/{pid}/rounds"): Rule(LEAD, {"name": "Next"}),
    ("PATCH", "/api/v1/projects/{pid}/rounds/{rid}"): Rule(LEAD, {"name": "Renamed"}),
    ("GET", "/projects/{pid}/loop"): Rule(REVIEWER),
    ("POST", "/projects/{pid}/loop/score"): Rule(LEAD, {"model_id": "{mid}"}),
    ("POST", "/projects/{pid}/loop/order"): Rule(LEAD, {"rule": "margin"}),
    ("POST", "/projects/{pid}/rounds"): Rule(LEAD, {"name": "Next"}),
    ("POST", "/projects/{pid}/rounds/{rid}"): Rule(LEAD, {"name": "Renamed"}),
}

CALLERS = ["anonymous", "nonmember", "annotator", "reviewer", "lead", "admin"]


def test_every_route_has_a_rule() -> None:
    served = {(method, path) for method, path, _ in iter_routes(create_app().routes)}
    assert served - set(ROUTES) == set(), "new routes need a rule in ROUTES"
    assert set(ROUTES) - served == set(), "ROUTES names routes the app no longer serves"


def _fill(value: Any, values: dict[str, Any]) -> Any:
    """Put ids into a body: "{tid}" becomes the task's id (an int where the template was only that)."""
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, str) and re.fullmatch(r"\{\w+\}", value):
        return values[value[1:-1]]
    return value


def _chat(db: Session, project: Any, owner: Any, state: str) -> tuple[Conversation, ChatTurn]:
    """A conversation of `owner` whose head turn is in `state`."""
    conversation = Conversation(project_id=project.id, user_id=owner.id, title="Hi")
    db.add(conversation)
    db.flush()
    second = "failed" if state == "failed" else "done"
    candidates = [
        {"id": "c1", "model": "m1", "temperature": 0.3, "text": "One.", "status": "done", "error": None},
        {"id": "c2", "model": "m2", "temperature": 1.0, "text": "Two.", "status": second, "error": None},
    ]
    turn = ChatTurn(
        conversation_id=conversation.id, uuid=str(uuid.uuid4()), user_text="Hi",
        messages=[{"role": "user", "content": "Hi"}], candidates=candidates, order=["c2", "c1"],
        status="picked" if state == "picked" else "ready", reply="One." if state == "picked" else None,
        chosen="c1" if state == "picked" else None,
    )  # fmt: skip
    db.add(turn)
    db.flush()
    conversation.head_turn_id = turn.id
    db.flush()
    return conversation, turn


def _expected(rule: Rule, caller: str) -> str:
    if rule.need == PUBLIC:
        return "allowed"
    if caller == "anonymous":
        return "unauthenticated"
    if rule.need == AUTH or caller == "admin":
        return "allowed"
    if rule.need == ADMIN:
        return "forbidden"
    if caller == "nonmember":
        return "hidden"
    return "allowed" if Role[caller] >= rule.need else "forbidden"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_permissions(route: tuple[str, str], caller: str, client: TestClient, db: Session) -> None:
    method, template = route
    rule = ROUTES[route]
    users = {name: factories.make_user(db, is_admin=name == "admin") for name in CALLERS[1:]}
    project = factories.make_project(db, lead=users["lead"], kind="chat" if rule.chat else "pairwise")
    for name in ("annotator", "reviewer"):
        factories.add_member(db, project, users[name], Role[name])
    other = factories.make_user(db)
    factories.add_member(db, project, other, Role.annotator)  # the member that member routes change
    outsider = factories.make_user(db)
    task, leased, annotated, others = factories.make_tasks(db, project, 4)
    job = factories.make_job(db, project, users["lead"])
    me = users.get(caller)
    owner = me if caller not in ("anonymous", "nonmember") else users["lead"]  # whose lease and answer
    from app.auth.service import create_token

    token, _ = create_token(db, user=me or users["lead"], name="t")
    lease = factories.make_lease(db, leased, owner)
    own = factories.make_annotation(db, annotated, owner)
    theirs = factories.make_annotation(db, others, other)
    flag = factories.make_flag(db, task, other)
    suggestion = factories.make_suggestion(db, task)  # a judge's pre-label, for the review routes
    snapshot = factories.make_snapshot(db, project, users["lead"])
    model = factories.make_model(db, snapshot, path=str(factories.model_dir()))
    round_ = factories.make_round(db, project)
    credential = factories.make_credential(db)
    invite, invite_url = invites.create_invite(db, data=invites.InviteRequest(), actor=users["admin"])
    reset_url, _ = accounts.create_reset_link(db, user=other, actor=users["admin"])
    comment = Comment(project_id=project.id, task_id=annotated.id, author_id=owner.id, body="Why A?")
    db.add(comment)
    db.flush()
    notification = Notification(user_id=owner.id, kind="mention", comment_id=comment.id)
    db.add(notification)
    db.flush()
    conversation, turn = _chat(db, project, owner, rule.chat) if rule.chat else (None, None)
    values = {
        "conv_id": conversation.id if conversation else 0,
        "turn_id": turn.id if turn else 0,
        "cid": comment.id,
        "nid": notification.id,
        "credential_id": credential.id,
        "invite_id": invite.id,
        "invite_token": invite_url.rsplit("/", 1)[1],
        "reset_token": reset_url.rsplit("/", 1)[1],
        "sid": snapshot.id,
        "mid": model.id,
        "rid": round_.id,
        "split": "train",
        "pid": project.id,
        "tid": annotated.id if rule.worked else task.id,
        "jid": job.id,
        "user_id": other.id,
        "token_id": token.id,
        "other_id": outsider.id,
        "aid": lease.id,
        "fid": flag.id,
        "suggestion_id": suggestion.id,
        "mode": "judge",
        "own_uuid": own.uuid,
        "other_uuid": theirs.uuid,
        "new_uuid": str(uuid.uuid4()),
        "sha256": factories.make_image(db, project)["sha256"] if "{sha256}" in template else "",
    }
    values["uuid"] = {"new": values["new_uuid"], "own": own.uuid, "other": theirs.uuid}[rule.uuid]
    path = re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), template)
    is_api = path.startswith("/api/")

    headers: dict[str, str] = {}
    csrf = ""
    if me is not None:
        if is_api:
            headers["Authorization"] = f"Bearer {factories.make_token(db, me)}"
        else:
            csrf = sign_in(client, me.id)
    elif not is_api:
        csrf = csrf_of(client)

    kwargs: dict[str, Any] = {"headers": headers}
    if rule.files:
        kwargs["files"] = {"file": ("t.jsonl", b'{"prompt": "q", "responses": ["a", "b"]}\n')}
        if not is_api:
            kwargs["data"] = {"csrf_token": csrf}
    elif method in ("POST", "PUT", "PATCH"):
        body = _fill(rule.body if rule.body is not None else {}, values)
        if is_api or rule.json:
            kwargs["json"] = body
            if not is_api:
                headers["X-CSRF-Token"] = csrf
        else:
            form = {k: str(v).format(**values) for k, v in body.items()}
            if template == "/login":
                form = {"email": users["lead"].email, "password": factories.PASSWORD}
            kwargs["data"] = {**form, "csrf_token": csrf}
    if path == "/static":
        path = "/static/app.css"

    response = client.request(method, path, **kwargs)
    expected = _expected(rule, caller)
    status = response.status_code
    detail = f"{method} {path} as {caller}: {status} {response.text[:300]}"
    if expected == "unauthenticated":
        if (
            is_api or rule.json
        ):  # a page's own fetch of JSON reads a 401, never a login page it would take for a 200
            assert status == 401, detail
        else:
            assert status == 303 and response.headers["location"].startswith("/login"), detail
    elif expected == "hidden":
        assert status == 404, detail
    elif expected == "forbidden":
        assert status == 403, detail
    else:
        assert status < 400, detail
        if not is_api and status == 303 and template != "/logout":  # logging out lands on /login
            assert not response.headers["location"].startswith("/login"), detail
