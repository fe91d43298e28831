"""Models and migrations agree: on a fresh PostgreSQL database, `alembic upgrade head` then autogenerate
finds nothing to do. Runs against PostgreSQL whatever the suite's backend, since production runs there."""

from __future__ import annotations

import uuid

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.cli import ROOT
from app.models import Base
from tests.conftest import PG_ADMIN_URL


def test_migrations_match_the_models_on_postgresql() -> None:
    name = f"preflab_migrations_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    engine = create_engine(url)
    try:
        config = Config(str(ROOT / "alembic.ini"))
        config.attributes["url"] = url
        config.attributes["configure_logger"] = False
        command.upgrade(config, "head")
        assert "tasks" in inspect(engine).get_table_names()
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == []
        command.downgrade(config, "base")  # the way back works too
        assert inspect(engine).get_table_names() == ["alembic_version"]
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
