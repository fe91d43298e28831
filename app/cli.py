"""`preflab` command: serve, worker, migrate, create-user, create-token, import, export."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from sqlalchemy import select

from app.core.config import get_settings
from app.core.db import session_scope

cli = typer.Typer(
    help="Preflab: turn LLM outputs into training data, and training data into models.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
ROOT = Path(__file__).resolve().parents[1]


def run_migrations() -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


# A single embedded worker needs none of the cluster chatter between workers.
QUIET_WORKER = ("--without-gossip", "--without-mingle", "--without-heartbeat")


def worker_command(queues: str, *extra: str) -> list[str]:
    """The command line of a Celery worker process on the given queues."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery_app",
        "worker",
        "-Q",
        queues,
        "--loglevel",
        "INFO",
        *extra,
    ]


@cli.command()
def migrate() -> None:
    """Apply database migrations (alembic upgrade head)."""
    run_migrations()
    console.print("[green]database is at the latest schema[/green]")


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    worker: Annotated[bool, typer.Option(help="also run one Celery worker subprocess")] = True,
    seed: Annotated[bool, typer.Option(help="seed an admin and demo projects on first start")] = True,
    workers: Annotated[
        int, typer.Option(min=1, help="web server processes (their pools must fit max_connections)")
    ] = 1,
    llm_stub: Annotated[
        bool,
        typer.Option(help="also run the shipped OpenAI-compatible stub on 127.0.0.1:8001 (the demo chat's)"),
    ] = True,
) -> None:
    """Embedded mode: migrate, seed on first start, run the web server and a worker."""
    import uvicorn

    from app.core.db import check_pool_fits, get_engine, get_health_engine
    from app.demo.seed import needs_seed, seed_demo

    # Every web process reads this to check that all of them together fit the database's connections.
    os.environ["PREFLAB_WEB_PROCESSES"] = str(workers)
    get_settings.cache_clear()
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.resolved_secret_key  # noqa: B018 - generate and keep it before any process reads it
    run_migrations()
    problem = check_pool_fits(workers)
    if problem:
        typer.echo(f"error: the database connection pools do not fit: {problem}", err=True)
        raise typer.Exit(2)
    if seed:
        with session_scope() as session:
            if needs_seed(session):
                email, password = seed_demo(session)
                console.print(
                    f"[bold]Created admin[/bold] {email} with password [bold]{password}[/bold] "
                    "(shown once; change it on /account, or create your own admin with `preflab create-user`)"
                )
        from app.demo.seed import seed_demo_model
        from app.training.service import models_dir

        if seed_demo_model(models_dir()) is None:
            console.print("[yellow]no demo base model: install the train extra to train on the demo[/yellow]")
    from app.core.processes import Supervised

    supervised = None
    if worker:  # restarted when it dies; it ends with this process, however this one ends
        supervised = Supervised(
            worker_command("default,gpu", "--pool", "solo", *QUIET_WORKER),
            cwd=ROOT,
            name="the worker",
            on_restart=lambda code, delay: console.print(
                f"[yellow]the worker exited (code {code}); starting it again in {delay:.0f} s[/yellow]"
            ),
        ).start()
    stub = _start_llm_stub() if llm_stub else None
    console.print(f"Preflab is running at [bold]http://{host}:{port}[/bold]  (Ctrl-C stops it)")
    get_engine().dispose()  # seeding's connections; the web processes open their own
    get_health_engine().dispose()
    try:
        # proxy_headers off: uvicorn would believe X-Forwarded-For from loopback; the app reads forwarded
        # headers itself, from PREFLAB_TRUSTED_PROXIES only (app/main.py).
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            proxy_headers=False,
        )
    finally:
        for child in (supervised, stub):
            if child is not None:
                child.stop()


STUB_PORT = 8001


def _start_llm_stub() -> Any:
    """The stub the demo chat project talks to, unless something already answers on its port (a stub
    started by hand, or a real server there)."""
    import socket

    from app.core.processes import Supervised

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", STUB_PORT)) == 0:
            console.print(
                f"[yellow]port {STUB_PORT} is taken: the demo chat talks to whatever answers there[/yellow]"
            )
            return None
    command = [sys.executable, "-m", "app.web.llm_stub", "--port", str(STUB_PORT), "--latency-ms", "150"]
    console.print(f"OpenAI-compatible stub for the demo chat at http://127.0.0.1:{STUB_PORT}/v1")
    return Supervised(command, cwd=ROOT, name="the LLM stub").start()


@cli.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(ctx: typer.Context, queues: str = "default", concurrency: int = 1) -> None:
    """Run a Celery worker (extra arguments go to celery)."""
    os.execv(sys.executable, worker_command(queues, "--concurrency", str(concurrency), *ctx.args))


@cli.command("create-user")
def create_user_cmd(
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    name: str = "",
    admin: bool = False,
) -> None:
    """Create a user."""
    from app.auth.service import create_user
    from app.core.errors import PreflabError

    try:
        with session_scope() as session:
            user = create_user(session, email=email, password=password, name=name, is_admin=admin)
            console.print(f"created user {user.id} {user.email}{' (admin)' if admin else ''}")
    except PreflabError as exc:  # an e-mail taken, a short password: one line, not a traceback
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


@cli.command("create-token")
def create_token_cmd(email: str, name: str = "cli") -> None:
    """Create an API token for a user and print it (shown once)."""
    from app.auth.service import create_token, get_user_by_email

    with session_scope() as session:
        user = get_user_by_email(session, email)
        _, raw = create_token(session, user=user, name=name)
    print(raw)


@cli.command("import")
def import_cmd(
    project: str, file: Path, mapping: Annotated[str | None, typer.Option("--map")] = None
) -> None:
    """Import tasks from FILE into PROJECT (id or name), all or nothing."""
    from app.core.errors import ImportRejected
    from app.imports.service import import_inline
    from app.imports.shapes import parse_mapping
    from app.imports.sources import rows_of

    with session_scope() as session:
        found = _find_project(session, project)
        size = file.stat().st_size
        with (
            file.open("rb") as fh,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console,
            ) as progress,
        ):
            bar = progress.add_task(f"importing {file.name}", total=size)

            def rows(items: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
                for n, item in enumerate(items, 1):
                    if n % 2000 == 0:
                        progress.update(bar, completed=fh.tell())
                    yield item

            try:
                with rows_of(fh, filename=file.name, urls="fetch") as (items, images):
                    result = import_inline(
                        session,
                        project=found,
                        raw_rows=rows(items),
                        mapping=parse_mapping(mapping),
                        source=f"cli: {file.name}",
                        images=images,
                    )
            except ImportRejected as exc:
                progress.stop()
                for e in exc.errors:
                    console.print(f"[red]line {e['line']}[/red]: {e['message']}")
                console.print(f"[red]{exc.message}[/red]")
                raise typer.Exit(1) from None
            progress.update(bar, completed=size)

    console.print(f"imported {result.imported}, duplicates {result.duplicates}")


def _find_project(session: Any, ref: str) -> Any:
    from app.models import Project

    found = (
        session.get(Project, int(ref))
        if ref.isdigit()
        else session.scalar(select(Project).where(Project.name == ref))
    )
    if found is None:
        console.print(f"[red]no project {ref!r}[/red]")
        raise typer.Exit(2)
    return found


@cli.command("export")
def export_cmd(
    project: str,
    format: Annotated[
        str, typer.Option("--format", "-f", help="preference | sft | kto | classification | stepwise | raw")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="train split here; others beside it")],
    file_format: Annotated[str, typer.Option(help="jsonl | parquet")] = "jsonl",
    gzip: bool = False,
    aggregation: Annotated[
        str | None, typer.Option(help="majority | unanimous | all | reviewed (default: the kind's own)")
    ] = None,
    min_annotations: int = 1,
    min_agreement: float = 0.0,
    ties: str = "drop",
    pairs: Annotated[str, typer.Option(help="ranking: all | adjacent")] = "all",
    edit_pairs: Annotated[
        str, typer.Option(help="projects with rewrites, preference and kto: all | choices | edits")
    ] = "all",
    reviewed_only: bool = False,
    include_gold: bool = False,
    test: float = 0.0,
    validation: float = 0.0,
    seed: int = 0,
) -> None:
    """Export PROJECT (id or name) as a new numbered snapshot, and copy its files to OUTPUT."""
    import shutil

    from pydantic import ValidationError

    from app.core.db import get_engine
    from app.core.errors import PreflabError
    from app.exports import service
    from app.exports.schemas import ExportRequest

    try:
        request = ExportRequest.model_validate(
            {
                "format": format,
                "file_format": file_format,
                "gzip": gzip,
                "filters": {"reviewed_only": reviewed_only, "include_gold": include_gold},
                "aggregation": {
                    **({"mode": aggregation} if aggregation else {}),
                    "min_annotations": min_annotations,
                    "min_agreement": min_agreement,
                    "ties": ties,
                    "pairs": pairs,
                    "edit_pairs": edit_pairs,
                },
                "split": {"test": test, "validation": validation, "seed": seed},
            }
        )
        with session_scope() as session:
            found = _find_project(session, project)
            snapshot = service.create_snapshot(
                session, project=found, user=None, request=request, queue=False
            )
            session.expunge_all()
    except (ValidationError, PreflabError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn(), console=console
    ) as bar:
        task = bar.add_task(f"exporting v{snapshot.version} as {format}", total=None)

        def on_progress(p: service.Progress) -> None:
            bar.update(task, completed=p.done, total=p.total)

        try:
            with get_engine().connect() as conn:
                manifest = service.export_snapshot(
                    conn, snapshot, found, created_by="cli", on_progress=on_progress
                )
        except BaseException as exc:
            service.settle(snapshot.id, "failed")
            if isinstance(exc, OSError):  # a full disk, a read-only data dir: one line, no traceback
                _cannot_write(f"snapshot v{snapshot.version}", exc)
            raise
    service.settle(snapshot.id, "ready", manifest=manifest)
    directory = service.snapshot_dir(found.id, snapshot.version)
    for split, info in manifest["files"].items():
        target = output if split == "train" else output.with_name(f"{output.stem}.{split}{output.suffix}")
        try:
            shutil.copyfile(directory / info["file"], target)
        except OSError as exc:
            _cannot_write(str(target), exc)
        console.print(f"{split}: {info['rows']:,} rows -> {target}")
    if manifest.get("images"):  # the rows name their images by paths beside them: copy those too
        images = output.parent / "images"
        try:
            images.mkdir(parents=True, exist_ok=True)
            for image in manifest["images"]:
                shutil.copyfile(directory / image["file"], output.parent / image["file"])
        except OSError as exc:
            _cannot_write(str(images), exc)
        console.print(f"images: {len(manifest['images']):,} -> {images}")
    for reason, n in manifest["dropped"].items():
        console.print(f"[yellow]left out[/yellow] {reason}: {n:,}")
    console.print(f"snapshot {snapshot.id} (v{snapshot.version}) in {directory}")


def _cannot_write(what: str, exc: OSError) -> None:
    typer.echo(f"error: could not write {what}: {exc.strerror or exc}", err=True)
    raise typer.Exit(1) from None


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
