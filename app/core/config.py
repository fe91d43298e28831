"""One settings object, read from PREFLAB_* environment variables (and an optional .env file)."""

from __future__ import annotations

import ipaddress
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
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
    max_upload_mb: int = 4096  # also the most a gzipped upload may decompress to
    max_gzip_ratio: int = 200  # a gzip expanding more than this many times its size is refused
    max_row_kb: int = 64 * 1024  # longest line / row / JSON item; longer ones are refused while reading
    max_row_depth: int = 64  # deepest nesting of lists/objects in one row
    max_row_values: int = 1_000_000  # most values (strings, numbers, lists, objects) in one row
    max_import_rows: int = 5_000_000
    import_inline_max_bytes: int = 8 * 1024 * 1024  # larger uploads run as a Job
    import_batch_size: int = 2000
    # Images in tasks (app/media/images.py): the largest file, and the most pixels one may decode to
    max_image_mb: float = 10.0
    max_image_pixels: int = 40_000_000
    max_images_per_task: int = 16
    # Images named by URL are fetched by the worker from public hosts only, and from these (names, IPs,
    # CIDR ranges, "loopback", "private"; as PREFLAB_LLM_ALLOWED_HOSTS reads them)
    image_fetch_hosts: str = ""
    image_fetch_timeout_s: float = 20.0

    # Prompt templates (pre-labeling): what one render may build, loop over and take
    prompt_max_chars: int = 2_000_000
    prompt_max_range: int = 100_000
    prompt_render_seconds: float = 2.0

    # Background jobs
    job_heartbeat_timeout_s: int = 120  # a running job silent this long lost its worker: it is sent again
    job_sweep_interval_s: float = 15.0  # how often each worker sweeps the jobs (app/jobs/outbox.py)
    job_dispatch_grace_s: int = (
        60  # a queued job nothing claimed this long is sent again (doubling each time)
    )

    # Sessions and login
    session_max_age_s: int = 14 * 24 * 3600
    # Login throttling (app/auth/throttle.py). Failed logins count per account, per known device (a signed
    # cookie a successful login leaves) and per client address. An account or a device that reaches
    # login_max_failures is locked for login_lockout_s, doubling with each further failure up to
    # login_lockout_max_s; a correct password from a known device still gets in while its account is
    # locked for everyone else. The per-address limit is far higher and never applies to known devices.
    login_max_failures: int = 10
    login_lockout_s: int = 60
    login_lockout_max_s: int = 24 * 3600
    login_window_s: int = 900  # failures are forgotten after this long without one (and without a lock)
    login_max_failures_per_address: int = 100
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: IPs and CIDR ranges, comma-
    # separated. Empty (the default): no one's are, loopback included, and the peer's address is the client.
    trusted_proxies: str = ""

    # The web tier under load (issue 18, finding 16): every web process holds at most pool + overflow
    # database connections (plus one for /readyz), and all of them together must fit PostgreSQL's
    # max_connections less its superuser reserve and `db_reserved_connections` (workers, migrations, psql).
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pool_timeout_s: float = 3.0  # a checkout that waits longer answers 503, never hangs
    db_statement_timeout_s: float = 30.0  # web processes' connections (PostgreSQL); 0: none
    db_idle_in_transaction_timeout_s: float = 60.0  # web processes' connections (PostgreSQL); 0: none
    db_reserved_connections: int = 10
    web_processes: int = 1  # uvicorn workers; `preflab serve --workers N` and docker compose set it
    max_inflight: int = 0  # requests in flight per web process before 503 + Retry-After; 0: pool + overflow

    # Accounts (app/auth/accounts.py, app/auth/invites.py): how long the single-use links an admin hands
    # over stay usable. Only a hash of each link's token is stored.
    reset_link_hours: int = Field(default=24, ge=1)  # a password-reset link
    invite_days: int = Field(default=7, ge=1)  # an invite link

    # LLM endpoint defaults (per-project settings override)
    llm_base_url: str = "https://api.openai.com/v1"
    llm_model: str = "gpt-4o-mini"
    # The instance default key: the variable of the worker's environment that holds it. It is sent only to
    # llm_base_url's host (projects choose it as the credential "default"); other hosts get credentials.
    llm_api_key_env: str = "OPENAI_API_KEY"
    # Private projects may only send to these: host names, IPs, CIDR ranges, and the words "loopback"
    # (127.0.0.0/8, ::1, localhost) and "private" (10/8, 172.16/12, 192.168/16, fc00::/7).
    llm_allowed_hosts: str = "loopback,private"
    llm_concurrency: int = 8
    llm_requests_per_minute: int = 0  # 0: no cap
    llm_price_in_per_1k: float = 0.0
    llm_price_out_per_1k: float = 0.0
    llm_timeout_s: float = 120.0
    llm_max_retries: int = 4

    # Credentials (issue 18, finding 6): administrators bind API keys to the hosts they may be sent to, and
    # projects choose one by name. A credential names the variable of the worker's environment holding its
    # key (the key is never stored); these fnmatch patterns say which variables a credential may name.
    # PREFLAB_* variables and llm_api_key_env never qualify, whatever the patterns.
    llm_api_key_envs: str = "*_API_KEY"

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        # A typo must not pass silently: uvicorn would take it for a literal host name and trust no one.
        for item in (v.strip() for v in value.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"{item!r} is neither an IP address nor a CIDR range") from None
        return value

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
    def resolved_max_inflight(self) -> int:
        """Requests one web process serves at once: by default as many as it has connections, so a
        request admitted never queues for one."""
        return self.max_inflight or self.db_pool_size + self.db_max_overflow

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
    def trusted_proxy_list(self) -> list[str]:
        return [item.strip() for item in self.trusted_proxies.split(",") if item.strip()]

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def uploads_dir(self) -> Path:
        path = self.data_dir / "uploads"
        path.mkdir(parents=True, exist_ok=True)
        return path


@lru_cache
def get_settings() -> Settings:
    return Settings()
