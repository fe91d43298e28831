"""Label-quality simulation: do Preflab's quality figures mean something?

A synthetic pairwise project with a known true preference per task; simulated annotators with known error
rates, two with a left-position bias, and a spammer answering at random, fast. They work through the real
queue and API (the FastAPI app in-process, on a fresh SQLite database); gold tasks are mixed into their
queues at the project's gold rate. Then it prints each annotator's true error rate beside Preflab's
estimates (gold accuracy and agreement), whether the spammer and the biased annotators are flagged, and
the accuracy against the truth of (a) a naive majority vote and (b) Preflab's quality-aware export.

    .venv/bin/python bench/label_quality.py [--tasks 600] [--seed 7]

The queue draws gold turns and display orders from the OS (`secrets`), so figures vary a little from run
to run even with one seed. `configure`, `simulate` and `export_preferences` are reused by bench/loop.py.
"""

from __future__ import annotations

import sys

# bench/ holds queue.py, which would shadow the standard library's queue module.
sys.path[:] = [p for p in sys.path if not p.endswith("bench")]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass
class Annotator:
    name: str
    error: float  # chance of choosing the worse response, when not following the bias
    left_bias: float = 0.0  # chance of simply choosing the response shown first
    spammer: bool = False
    turns: int = 1  # answers per round (a spammer is quick)
    seconds: tuple[float, float] = (6.0, 25.0)
    answers: list[tuple[int, str]] = field(default_factory=list)  # (task id, choice)

    def choose(self, rng: random.Random, truth: str, shown: list[str]) -> str:
        if self.spammer:
            return rng.choice(shown)
        if rng.random() < self.left_bias:
            return shown[0]
        worse = "b" if truth == "a" else "a"
        return worse if rng.random() < self.error else truth


CAST = [
    Annotator("careful-1", 0.05),
    Annotator("careful-2", 0.08),
    Annotator("careful-3", 0.12),
    Annotator("average-1", 0.20),
    Annotator("average-2", 0.25),
    Annotator("left-biased-1", 0.10, left_bias=0.7),
    Annotator("left-biased-2", 0.15, left_bias=0.6),
    Annotator("spammer", 0.5, spammer=True, turns=3, seconds=(0.3, 0.9)),
]


def configure(data_dir: Path) -> None:
    """Point Preflab at a fresh data directory and SQLite database: before anything imports `app`."""
    os.environ.update(
        PREFLAB_DATA_DIR=str(data_dir),
        PREFLAB_DATABASE_URL=f"sqlite:///{data_dir / 'bench.db'}",
        PREFLAB_BROKER_URL=f"sqla+sqlite:///{data_dir / 'broker.db'}",
        PREFLAB_SECRET_KEY="bench",
    )


@dataclass
class Simulation:
    """A pairwise project the cast has worked through, and what a caller needs to read it back."""

    client: Any  # the in-process app (a FastAPI TestClient)
    project: Any  # the Project row, detached from its session
    lead_token: str
    user_ids: dict[str, int]  # annotator name -> user id
    external_ids: dict[int, str]  # task id -> external id
    cast: list[Annotator]  # fresh copies of the cast given, holding their answers

    @property
    def project_id(self) -> int:
        return int(self.project.id)


def simulate(
    rows: list[dict[str, Any]],
    truth: dict[str, str],
    *,
    rng: random.Random,
    overlap: int,
    gold_rate: float = 0.12,
    cast: list[Annotator] = CAST,
) -> Simulation:
    """Import `rows` (pairwise tasks, responses "a" and "b"; a row with "gold" is a gold task) into a new
    project and let the cast annotate through the queue and API until none is served a task. `truth` maps
    each external id to the better response; `rng` drives the annotators. Call `configure` first."""
    from fastapi.testclient import TestClient

    from app.auth.service import create_token, create_user
    from app.core.db import session_scope
    from app.imports.service import import_rows
    from app.main import create_app
    from app.models import Member, Project, Role, Task
    from app.projects.schemas import ProjectCreate
    from app.projects.service import create_project

    cast = [replace(person, answers=[]) for person in cast]
    with session_scope() as session:
        lead = create_user(session, email="lead@bench.test", password="long enough pw", is_admin=True)
        project = create_project(
            session,
            user=lead,
            data=ProjectCreate(
                name="Label quality",
                kind="pairwise",
                settings={
                    "overlap": overlap,
                    "gold_rate": gold_rate,
                    "strength_scale": [],
                    "min_seconds_per_task": 2,
                },
            ),
        )
        import_rows(session, project_id=project.id, raw_rows=enumerate(rows, 1))
        tokens = {}
        for person in cast:
            user = create_user(session, email=f"{person.name}@bench.test", password="long enough pw")
            session.add(Member(project_id=project.id, user_id=user.id, role=Role.annotator.name))
            session.flush()
            tokens[person.name] = (user.id, create_token(session, user=user, name="bench")[1])
        lead_token = create_token(session, user=lead, name="bench")[1]
        pid = project.id
        ext_of = {
            tid: str(ext)
            for tid, ext in session.query(Task.id, Task.external_id).filter(Task.project_id == pid)
        }

    client = TestClient(create_app())
    active = list(cast)
    while active:
        for person in list(active):
            for _ in range(person.turns):
                headers = {"Authorization": f"Bearer {tokens[person.name][1]}"}
                nxt = client.post(f"/api/v1/projects/{pid}/next", headers=headers)
                if nxt.status_code == 204:
                    active.remove(person)
                    break
                body = nxt.json()
                task_id, shown = body["task"]["id"], body["assignment"]["order"]
                choice = person.choose(rng, truth[ext_of[task_id]], shown)
                put = client.put(
                    f"/api/v1/annotations/{uuid.uuid4()}",
                    json={"task_id": task_id, "result": {"choice": choice},
                          "assignment_id": body["assignment"]["id"],
                          "lead_time_ms": int(rng.uniform(*person.seconds) * 1000)},
                    headers=headers,
                )  # fmt: skip
                assert put.status_code == 201, put.text
                person.answers.append((task_id, choice))

    with session_scope() as session:
        project_row = session.get_one(Project, pid)
        session.expunge(project_row)
    return Simulation(
        client=client,
        project=project_row,
        lead_token=lead_token,
        user_ids={name: uid for name, (uid, _) in tokens.items()},
        external_ids=ext_of,
        cast=cast,
    )


def export_preferences(
    sim: Simulation, mode: str, directory: Path
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Preflab's preference export of the project (train split only, aggregation `mode`), written into
    `directory` (which must not exist) through the export service; returns its manifest and rows."""
    from app.core.db import get_engine
    from app.exports import service
    from app.exports.schemas import ExportRequest

    request = ExportRequest.model_validate(
        {"format": "preference", "split": {"test": 0}, "aggregation": {"mode": mode}}
    )
    with get_engine().connect() as conn, conn.begin():
        manifest = service.write_snapshot(conn, project=sim.project, request=request, directory=directory)
    text = (directory / manifest["files"]["train"]["file"]).read_text()
    return manifest, [json.loads(line) for line in text.splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=600)
    parser.add_argument("--gold", type=int, default=40)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="preflab-label-quality-"))
    configure(tmp)
    from app.cli import run_migrations

    run_migrations()
    rng = random.Random(args.seed)
    truth: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    for i in range(args.tasks + args.gold):
        better = rng.choice("ab")
        ext = f"t{i}"
        truth[ext] = better
        responses = [{"id": "a", "text": f"A{i}"}, {"id": "b", "text": f"B{i}"}]
        row: dict[str, Any] = {"external_id": ext, "prompt": f"Question {i}?", "responses": responses}
        if i >= args.tasks:
            row["gold"] = {"choice": better}
        rows.append(row)
    sim = simulate(rows, truth, rng=rng, overlap=args.overlap)
    ext_of = sim.external_ids

    stats = sim.client.get(
        f"/api/v1/projects/{sim.project_id}/stats?refresh=true",
        headers={"Authorization": f"Bearer {sim.lead_token}"},
    )
    figures = {a["user_id"]: a for a in stats.json()["annotators"]}
    print(f"{args.tasks} tasks + {args.gold} gold, overlap {args.overlap}, gold rate 12 %, seed {args.seed}")
    print(f"{'annotator':<15} {'answers':>7} {'true err':>8} {'gold n':>6} {'1-gold acc':>10} {'1-agree':>8}",
          " flags")  # fmt: skip
    for person in sim.cast:
        uid = sim.user_ids[person.name]
        f = figures[uid]
        wrong = sum(1 for tid, c in person.answers if c != truth[ext_of[tid]])
        gold = f["gold"]
        agree = f["majority_agreement"]
        est_gold = f"{1 - gold['value']:.3f}" if gold["value"] is not None else "-"
        est_agree = f"{1 - agree['value']:.3f}" if agree["value"] is not None else "-"
        error = wrong / len(person.answers)
        print(f"{person.name:<15} {len(person.answers):>7} {error:>8.3f} {gold['n']:>6} {est_gold:>10}",
              f"{est_agree:>8}  {', '.join(f['flags']) or '-'}")  # fmt: skip
    flagged = {p.name: bool(figures[sim.user_ids[p.name]]["flags"]) for p in sim.cast}
    wrongly = [n for n, f in flagged.items() if f and n.startswith(("careful", "average"))]
    print("spammer flagged:", flagged["spammer"], "| biased flagged:", flagged["left-biased-1"],
          flagged["left-biased-2"], "| careful or average ones flagged:", wrongly or "none")  # fmt: skip

    results: dict[str, tuple[int, int, dict[str, int], dict[str, bool]]] = {}
    for mode in ("majority", "quality"):
        manifest, lines = export_preferences(sim, mode, tmp / mode)
        ok = {
            r["prompt"]: r["chosen"].startswith(truth[f"t{r['prompt'].split()[1][:-1]}"].upper())
            for r in lines
        }
        results[mode] = (sum(ok.values()), len(lines), manifest["dropped"], ok)
    for mode, (right, n, dropped, _) in results.items():
        label = "naive majority" if mode == "majority" else "Preflab quality-aware"
        print(f"{label:<22} accuracy {right / n:.3f} ({right}/{n} rows, {n / args.tasks:.0%} of tasks;",
              f"dropped {dropped or 'none'})")  # fmt: skip
    (m_right, m_n, _, m_ok), (q_right, q_n, _, q_ok) = results["majority"], results["quality"]
    same = sum(1 for prompt in q_ok if m_ok.get(prompt))
    print(
        f"on the {q_n} tasks both export: naive majority {same / q_n:.3f}, quality-aware {q_right / q_n:.3f}"
    )
    errors_m, errors_q = 1 - m_right / m_n, 1 - q_right / q_n
    print(f"quality-aware minus majority: {q_right / q_n - m_right / m_n:+.3f} accuracy;",
          f"errors cut by {1 - errors_q / errors_m:.0%}" if errors_m else "")  # fmt: skip


if __name__ == "__main__":
    main()
