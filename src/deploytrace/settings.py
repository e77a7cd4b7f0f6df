"""The one typed settings object, read from `DEPLOYTRACE_*` environment variables.

A frozen dataclass rather than pydantic-settings: the CLI reads settings on every
call, before it knows whether it needs the heavy server stack, and
pydantic-settings alone costs more start-up time than the whole client path.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from deploytrace.errors import InvalidInput

MIB = 1024 * 1024


def _default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("deploytrace", appauthor=False))


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise InvalidInput(f"{name} must not be negative, got {value}")
    return value


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(f"{name} must be a non-negative number of seconds, got {raw!r}")
    return value


def _float(env: dict[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < minimum:
        raise InvalidInput(f"{name} must be a number of at least {minimum:g}, got {raw!r}")
    return value


def _flag(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise InvalidInput(f"{name} must be 1 or 0 (true or false), got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with its environment variable in the comment."""

    home: Path = field(default_factory=_default_home)  # DEPLOYTRACE_HOME
    database_url: str | None = None  # DEPLOYTRACE_DATABASE_URL (server and admin commands)
    # DEPLOYTRACE_DATABASE_READ_URL (server): a PostgreSQL streaming replica for reads
    database_read_url: str | None = None
    read_max_lag: float = 5.0  # DEPLOYTRACE_READ_MAX_LAG (seconds behind before reads leave it)
    server: str | None = None  # DEPLOYTRACE_SERVER (CLI: talk to this server)
    token: str | None = None  # DEPLOYTRACE_TOKEN (CLI: bearer token for the server)
    max_body_bytes: int = 25 * MIB  # DEPLOYTRACE_MAX_BODY_BYTES
    db_pool_size: int = 10  # DEPLOYTRACE_DB_POOL_SIZE (per server process)
    db_connect_timeout: int = 3  # DEPLOYTRACE_DB_CONNECT_TIMEOUT (seconds)
    db_statement_timeout_ms: int = 15_000  # DEPLOYTRACE_DB_STATEMENT_TIMEOUT_MS
    http_timeout: float = 30.0  # DEPLOYTRACE_HTTP_TIMEOUT (CLI -> server, seconds)
    debug: bool = False  # DEPLOYTRACE_DEBUG (CLI: a traceback instead of one line)
    # DEPLOYTRACE_AUDIT_KEY: signs audit checkpoints (kept out of the database).
    audit_key: str | None = field(default=None, repr=False)
    # Events out (SPEC §11). The key seals webhook secrets: base64 of 32 bytes, the same on
    # every replica; unset, the key file (default $DEPLOYTRACE_HOME/secret.key) is used.
    secret_key: str | None = field(default=None, repr=False)  # DEPLOYTRACE_SECRET_KEY
    secret_key_file: Path | None = None  # DEPLOYTRACE_SECRET_KEY_FILE
    webhook_delivery: bool = True  # DEPLOYTRACE_WEBHOOK_DELIVERY (0: this server sends none)
    webhook_timeout: float = 10.0  # DEPLOYTRACE_WEBHOOK_TIMEOUT (seconds per attempt)
    webhook_concurrency: int = 32  # DEPLOYTRACE_WEBHOOK_CONCURRENCY (attempts in flight)
    webhook_poll: float = 0.5  # DEPLOYTRACE_WEBHOOK_POLL_SECONDS (idle wait for new events)
    # DEPLOYTRACE_WEBHOOK_TIME_SCALE: multiplies the retry schedule and its 24 h (tests only).
    webhook_time_scale: float = 1.0
    stale_check: float = 30.0  # DEPLOYTRACE_STALE_CHECK_SECONDS (deployment.stale period)
    metrics: bool = True  # DEPLOYTRACE_METRICS (`server --no-metrics` sets 0)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        home = env.get("DEPLOYTRACE_HOME")
        settings = cls() if not home else cls(home=Path(home).expanduser())
        timeout_raw = env.get("DEPLOYTRACE_HTTP_TIMEOUT")
        try:
            timeout = float(timeout_raw) if timeout_raw else settings.http_timeout
        except ValueError:
            raise InvalidInput(
                f"DEPLOYTRACE_HTTP_TIMEOUT must be a number, got {timeout_raw!r}"
            ) from None
        return replace(
            settings,
            database_url=env.get("DEPLOYTRACE_DATABASE_URL") or None,
            database_read_url=env.get("DEPLOYTRACE_DATABASE_READ_URL") or None,
            read_max_lag=_seconds(env, "DEPLOYTRACE_READ_MAX_LAG", settings.read_max_lag),
            server=env.get("DEPLOYTRACE_SERVER") or None,
            token=env.get("DEPLOYTRACE_TOKEN") or None,
            max_body_bytes=_int(env, "DEPLOYTRACE_MAX_BODY_BYTES", settings.max_body_bytes),
            db_pool_size=_int(env, "DEPLOYTRACE_DB_POOL_SIZE", settings.db_pool_size),
            db_connect_timeout=_int(
                env, "DEPLOYTRACE_DB_CONNECT_TIMEOUT", settings.db_connect_timeout
            ),
            db_statement_timeout_ms=_int(
                env, "DEPLOYTRACE_DB_STATEMENT_TIMEOUT_MS", settings.db_statement_timeout_ms
            ),
            http_timeout=timeout,
            debug=(env.get("DEPLOYTRACE_DEBUG") or "0").lower() not in ("0", "false", "no"),
            audit_key=env.get("DEPLOYTRACE_AUDIT_KEY") or None,
            secret_key=env.get("DEPLOYTRACE_SECRET_KEY") or None,
            secret_key_file=(
                Path(env["DEPLOYTRACE_SECRET_KEY_FILE"]).expanduser()
                if env.get("DEPLOYTRACE_SECRET_KEY_FILE")
                else None
            ),
            webhook_delivery=_flag(env, "DEPLOYTRACE_WEBHOOK_DELIVERY", settings.webhook_delivery),
            webhook_timeout=_float(
                env, "DEPLOYTRACE_WEBHOOK_TIMEOUT", settings.webhook_timeout, minimum=0.1
            ),
            webhook_concurrency=max(
                1, _int(env, "DEPLOYTRACE_WEBHOOK_CONCURRENCY", settings.webhook_concurrency)
            ),
            webhook_poll=_float(
                env, "DEPLOYTRACE_WEBHOOK_POLL_SECONDS", settings.webhook_poll, minimum=0.01
            ),
            webhook_time_scale=_float(
                env, "DEPLOYTRACE_WEBHOOK_TIME_SCALE", settings.webhook_time_scale, minimum=1e-6
            ),
            stale_check=_float(
                env, "DEPLOYTRACE_STALE_CHECK_SECONDS", settings.stale_check, minimum=0.05
            ),
            metrics=_flag(env, "DEPLOYTRACE_METRICS", settings.metrics),
        )

    @property
    def embedded_database_url(self) -> str:
        return f"sqlite:///{self.home / 'deploytrace.db'}"

    @property
    def key_file(self) -> Path:
        return self.secret_key_file or self.home / "secret.key"
