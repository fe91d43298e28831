"""Every id in a path is bounded to what the database can hold: an id beyond BIGINT (or below 1) is a
422 naming the parameter, never a 500 from the driver (PostgreSQL's "out of range", SQLite's
OverflowError), on every API route and page, and OpenAPI shows the bound."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.web.deps import MAX_ID
from tests import factories
from tests.conftest import sign_in

OUT_OF_RANGE = (2**63, -(2**63) - 1, 10**30)


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(list(included.routes), prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def _int_path_params(dependant: Dependant) -> set[str]:
    names = {p.name for p in dependant.path_params if p.field_info.annotation is int}
    for sub in dependant.dependencies:
        names |= _int_path_params(sub)
    return names


def _id_routes(app: Any) -> list[tuple[str, str, set[str]]]:
    found = []
    for path, route in _routes(list(app.routes)):
        names = _int_path_params(route.dependant)
        if names:
            found.extend((method, path, names) for method in sorted(route.methods - {"HEAD"}))
    return found


def test_every_id_path_parameter_out_of_range_is_a_422_not_a_500(app: Any, db: Session) -> None:
    admin = factories.make_user(db, is_admin=True)
    project = factories.make_project(db, lead=admin)
    token = factories.make_token(db, admin)
    routes = _id_routes(app)
    assert len(routes) > 80  # the walk found the API and the pages
    failures = []
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as client:
        csrf = sign_in(client, admin.id)
        headers = {"Authorization": f"Bearer {token}", "X-CSRF-Token": csrf}
        for method, path, names in routes:
            for name in sorted(names):
                for value in OUT_OF_RANGE:
                    # the other ids are ones that exist (or small ones that do not): only `name` is off
                    filled = {n: (value if n == name else project.id) for n in names}
                    url = re.sub(r"\{(\w+)\}", lambda m, f=filled: str(f.get(m.group(1), "x")), path)
                    response = client.request(method, url, headers=headers)
                    named = name in response.text or not url.startswith("/api/")  # pages say it in words
                    if response.status_code != 422 or not named:
                        failures.append(f"{method} {url} -> {response.status_code}")
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} in all)"


def test_openapi_shows_the_bound_of_every_id_in_a_path(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    seen = 0
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                    seen += 1
                    assert parameter["schema"].get("minimum") == 1, (path, parameter)
                    assert parameter["schema"].get("maximum") == MAX_ID, (path, parameter)
    assert seen > 40


@pytest.mark.parametrize("value", ["0", "-1"])
def test_ids_below_one_are_refused_as_such(client: TestClient, db: Session, value: str) -> None:
    user = factories.make_user(db)
    token = factories.make_token(db, user)
    response = client.get(f"/api/v1/tasks/{value}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422
    assert "tid" in response.json()["detail"]
