"""The `preflab` command against the test database."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from app.auth.service import user_for_token
from app.cli import cli
from app.core.db import session_scope
from app.models import Task, User
from tests import factories

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def test_create_user_and_token(committed: None) -> None:
    r = runner.invoke(cli, ["create-user", "cli@example.com", "--password", "long enough", "--admin"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["create-token", "cli@example.com", "--name", "script"])
    assert r.exit_code == 0, r.output
    token = r.output.strip()
    with session_scope() as session:
        user = user_for_token(session, token)
        assert user is not None and user.email == "cli@example.com" and user.is_admin
    r = runner.invoke(cli, ["create-user", "cli@example.com", "--password", "long enough"])
    assert r.exit_code != 0  # the same e-mail twice


def test_create_user_for_a_taken_email_is_one_line_on_stderr(committed: None) -> None:
    with session_scope() as session:
        taken = factories.make_user(session).email
    preflab = [sys.executable, "-m", "app.cli", "create-user"]
    done = subprocess.run(
        [*preflab, taken, "--password", "long enough"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert done.stderr.splitlines() == [f"error: a user with e-mail {taken} already exists"]
    short = subprocess.run(
        [*preflab, "new@example.com", "--password", "short"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert short.returncode != 0 and "Traceback" not in short.stderr
    assert short.stderr.splitlines() == ["error: the password must have 8 to 500 characters"]


def test_import_command_is_all_or_nothing(committed: None, tmp_path: Path) -> None:
    with session_scope() as session:
        project = factories.make_project(session, name="CLI import")
        project_id = project.id
    good = tmp_path / "rows.jsonl.gz"
    good.write_bytes(
        gzip.compress(
            "\n".join(json.dumps({"prompt": f"p{i}", "responses": ["a", "b"]}) for i in range(30)).encode()
        )
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok", "responses": ["a"]}\n{"prompt": ""}\n')

    r = runner.invoke(cli, ["import", "CLI import", str(bad)])
    assert r.exit_code == 1 and "line 2" in r.output
    r = runner.invoke(cli, ["import", str(project_id), str(good)])
    assert r.exit_code == 0, r.output
    assert "imported 30, duplicates 0" in r.output
    with session_scope() as session:
        assert (
            session.scalar(select(func.count()).select_from(Task).where(Task.project_id == project_id)) == 30
        )
        assert session.scalar(select(func.count()).select_from(User)) == 0  # nothing else was created


def test_export_command_writes_a_snapshot_and_its_files(committed: None, tmp_path: Path) -> None:
    from app.exports.service import snapshots_root
    from app.models import Role, Snapshot

    with session_scope() as session:
        lead, annotator = factories.make_user(session), factories.make_user(session)
        project = factories.make_project(session, name="CLI export", lead=lead)
        factories.add_member(session, project, annotator, Role.annotator)
        for i in range(30):
            task = factories.make_task(session, project, f"Prompt {i}", [f"yes {i}", f"no {i}"])
            factories.make_annotation(session, task, annotator, {"choice": "a", "strength": 1})
        project_id = project.id
    out = tmp_path / "prefs.jsonl"
    r = runner.invoke(
        cli, ["export", "CLI export", "--format", "preference", "-o", str(out), "--test", "0.3"]
    )
    assert r.exit_code == 0, r.output
    train = [json.loads(line) for line in out.read_text().splitlines()]
    test = [json.loads(line) for line in (tmp_path / "prefs.test.jsonl").read_text().splitlines()]
    assert len(train) + len(test) == 30 and train and test
    assert {r["prompt"] for r in train}.isdisjoint({r["prompt"] for r in test})
    assert f"train: {len(train)} rows" in r.output
    with session_scope() as session:
        snapshot = session.scalars(select(Snapshot).where(Snapshot.project_id == project_id)).one()
        assert snapshot.status == "ready" and snapshot.manifest["counts"] == {
            "train": len(train),
            "test": len(test),
        }
    r = runner.invoke(cli, ["export", str(project_id), "--format", "classification", "-o", str(out)])
    assert r.exit_code == 2 and "exports as preference, kto, sft, raw" in r.output
    shutil.rmtree(snapshots_root(), ignore_errors=True)


def test_export_to_a_full_disk_says_so_in_one_line(committed: None) -> None:
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    from app.exports.service import snapshots_root

    with session_scope() as session:
        lead = factories.make_user(session)
        project = factories.make_project(session, name="Full disk", lead=lead)
        factories.make_task(session, project, "Prompt", ["yes", "no"])
    r = runner.invoke(cli, ["export", "Full disk", "--format", "raw", "-o", "/dev/full"])
    assert r.exit_code == 1
    assert "error: could not write /dev/full: No space left on device" in r.output
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)
    shutil.rmtree(snapshots_root(), ignore_errors=True)
