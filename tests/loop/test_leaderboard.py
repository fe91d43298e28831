"""The Bradley-Terry leaderboard recovers known strengths, handles ties, and reads a project's votes."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.loop import leaderboard
from app.loop.leaderboard import SCALE, Game, fit, fit_tally
from app.models import Role
from tests import factories
from tests.conftest import sign_in

TRUE = {"small": -1.0, "medium": 0.0, "large": 1.2}  # log-strengths
NU = 0.4


def _simulate(n: int, seed: int = 3) -> list[Game]:
    rng = random.Random(seed)
    names = list(TRUE)
    games = []
    for _ in range(n):
        x, y = rng.sample(names, 2)
        px, py = math.exp(TRUE[x]), math.exp(TRUE[y])
        tie = NU * math.sqrt(px * py)
        u = rng.random() * (px + py + tie)
        games.append(Game(x, y, 1 if u < px else -1 if u < px + py else 0))
    return games


def test_recovers_known_strengths_and_tie_rate() -> None:
    board = fit(_simulate(6000), bootstrap=200)
    by = {m["model"]: m for m in board["models"]}
    assert [m["model"] for m in board["models"]] == ["large", "medium", "small"]
    mean = sum(TRUE.values()) / 3
    for name, theta in TRUE.items():
        expected = 1000 + SCALE * (theta - mean)
        assert by[name]["score"] == pytest.approx(expected, abs=25)  # within 25 Elo points
        assert by[name]["low"] <= expected <= by[name]["high"] or abs(by[name]["score"] - expected) < 10
    assert board["tie_parameter"] == pytest.approx(NU, abs=0.06)
    assert board["matrix"]["large"]["small"] > 0.8 > board["matrix"]["small"]["large"]


def test_small_samples_have_wide_intervals_and_one_model_has_no_board() -> None:
    small = fit(_simulate(60), bootstrap=200)
    wide = small["models"][0]["high"] - small["models"][0]["low"]
    big = fit(_simulate(6000), bootstrap=200)
    narrow = big["models"][0]["high"] - big["models"][0]["low"]
    assert wide > 3 * narrow
    assert fit([Game("x", "x", 1)])["models"] == []


def test_project_leaderboard_from_votes(client: TestClient, db: Session) -> None:
    lead, annotator = factories.make_user(db), factories.make_user(db)
    project = factories.make_project(db, kind="pairwise", lead=lead)
    factories.add_member(db, project, annotator, Role.annotator)
    for i in range(6):
        responses = [
            {"text": f"good {i}", "model": "new-policy"},
            {"text": f"meh {i}", "model": "old-policy"},
        ]
        task = factories.make_task(db, project, f"Q{i}", responses)
        factories.make_annotation(db, task, annotator, {"choice": "a" if i < 5 else "b"})
    headers = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    board = client.get(f"/api/v1/projects/{project.id}/leaderboard", headers=headers).json()
    human = {m["model"]: m for m in board["human"]["models"]}
    assert human["new-policy"]["wins"] == 5 and human["old-policy"]["wins"] == 1
    assert human["new-policy"]["score"] > human["old-policy"]["score"]
    assert board["judge"]["models"] == []
    sign_in(client, lead.id)
    page = client.get(f"/projects/{project.id}/leaderboard")
    assert page.status_code == 200 and "new-policy" in page.text and "83%" in page.text


def test_a_ranking_projects_judge_has_its_own_board(client: TestClient, db: Session) -> None:
    from app.models import Suggestion

    lead = factories.make_user(db)
    project = factories.make_project(db, kind="ranking", lead=lead, settings={"k": 3})
    for i in range(4):
        responses = [{"text": f"{name} {i}", "model": name} for name in ("big", "mid", "small")]
        task = factories.make_task(db, project, f"Q{i}", responses)
        ids = [str(r["id"]) for r in task.responses]
        db.add(
            Suggestion(task_id=task.id, kind="judge", model="j", result={"choice": ids[0], "ranking": ids})
        )
    db.add(Suggestion(task_id=task.id, kind="judge", model="j", result={}, error="timeout"))  # not counted
    db.flush()
    headers = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    board = client.get(f"/api/v1/projects/{project.id}/leaderboard", headers=headers).json()
    assert board["human"]["models"] == []
    judged = board["judge"]
    assert [m["model"] for m in judged["models"]] == ["big", "mid", "small"]
    assert judged["games"] == 12  # three pairs a task


def test_while_votes_arrive_a_recent_bootstrap_is_reused_around_the_new_strengths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tally = Counter((g.a, g.b, g.outcome) for g in _simulate(2000))
    first = fit_tally(tally, reuse=("p", "human"))
    assert first["interval_games"] == first["games"] == 2000
    more = Counter(tally)
    more[("small", "large", 1)] += 60  # 3 % more games, all upsets
    second = fit_tally(more, reuse=("p", "human"))
    assert second["interval_games"] == 2000 and second["games"] == 2060
    by_model = {r["model"]: r for r in first["models"]}
    for row in second["models"]:  # the same spread, centred on the new strengths
        was = by_model[row["model"]]
        assert row["score"] != pytest.approx(was["score"], abs=1e-6)
        assert row["high"] - row["score"] == pytest.approx(was["high"] - was["score"])
    assert fit_tally(more)["interval_games"] == 2060  # not reused where the board is not named
    much_more = Counter(more)
    much_more[("small", "large", 1)] += 400  # beyond 5 %: a new bootstrap
    assert fit_tally(much_more, reuse=("p", "human"))["interval_games"] == 2460
    much_more[("medium", "large", 0)] += 1
    assert fit_tally(much_more, reuse=("p", "human"))["interval_games"] == 2460  # within 5 %: reused
    monkeypatch.setattr(leaderboard, "REUSE_S", 0.0)  # too old: a new bootstrap
    much_more[("medium", "large", 0)] += 1
    assert fit_tally(much_more, reuse=("p", "human"))["interval_games"] == 2462
