"""One settings object, read from PREFLAB_* environment variables (and an optional .env file)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PREFLAB_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = Field(default=None, description="default: SQLite file in the data dir")
    broker_url: str | None = Field(default=None, description="default: kombu SQLAlchemy transport on SQLite")
    secret_key: str | None = Field(default=None, description="embedded mode generates one in the data dir")
    base_url: str = "http://127.0.0.1:8000"
    debug: bool = False

    # Uploads
    max_upload_mb: int = 4096
    max_import_rows: int = 5_000_000
    import_inline_max_bytes: int = 8 * 1024 * 1024  # larger uploads run as a Job
    import_batch_size: int = 2000

    # Background jobs
    job_heartbeat_timeout_s: int = 120  # a running job silent this long is marked failed (its worker died)

    # Sessions and login
    session_max_age_s: int = 14 * 24 * 3600
    login_max_failures: int = 10
    login_window_s: int = 900

    # LLM endpoint defaults (per-project settings override)
    llm_base_url: str = "https://api.openai.com/v1"
    llm_model: str = "gpt-4o-mini"
    llm_api_key_env: str = "OPENAI_API_KEY"
    # Private projects may only send to these: host names, IPs, CIDR ranges, and the words "loopback"
    # (127.0.0.0/8, ::1, localhost) and "private" (10/8, 172.16/12, 192.168/16, fc00::/7).
    llm_allowed_hosts: str = "loopback,private"
    # Names of the environment variables a project may take its API key from (fnmatch patterns), so a
    # lead cannot send another secret of the worker (PREFLAB_SECRET_KEY…) to an endpoint of their choosing.
    llm_api_key_envs: str = "*_API_KEY"
    llm_concurrency: int = 8
    llm_requests_per_minute: int = 0  # 0: no cap
    llm_price_in_per_1k: float = 0.0
    llm_price_out_per_1k: float = 0.0
    llm_timeout_s: float = 120.0
    llm_max_retries: int = 4

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'preflab.db').resolve()}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{(self.data_dir / 'broker.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def resolved_secret_key(self) -> str:
        """The configured key, or (embedded mode) one generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            candidate = secrets.token_urlsafe(48)
            try:
                with path.open("x") as fh:  # two processes starting at once keep the first key
                    fh.write(candidate)
                path.chmod(0o600)
            except FileExistsError:
                pass
        return path.read_text().strip()

    @property
    def uploads_dir(self) -> Path:
        path = self.data_dir / "uploads"
        path.mkdir(parents=True, exist_ok=True)
        return path


@lru_cache
def get_settings() -> Settings:
    return Settings()
