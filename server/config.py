"""Settings: the only reader of the environment, read once, typed, failing fast.

Every variable has a default that gives the embedded mode (SQLite file + in-process
broker), so ``make run`` needs nothing installed. Production sets ``DATABASE_URL`` to
PostgreSQL and ``REDIS_URL`` so several processes share rooms. The README's
configuration table lists these same names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from starlette.config import Config

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{ROOT / 'var' / 'atelier.db'}"


class ConfigError(ValueError):
    """A setting has a value Atelier cannot use; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = ""
    broker_prefix: str = "atelier:"
    host: str = "127.0.0.1"
    port: int = 8000
    allowed_origins: tuple[str, ...] = ()
    rate_limit_messages: int = 20
    rate_limit_window_secs: float = 10.0
    replay_limit: int = 50_000
    send_queue_limit: int = 2_000
    hub_poll_secs: float = 5.0
    ws_ping_interval_secs: float = 20.0
    ws_ping_timeout_secs: float = 20.0
    default_locale: str = "fr"
    log_level: str = "info"
    web_dir: Path = field(default=ROOT / "web")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _origins(value: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from ``environ`` (default: the process environment).

    Raises:
        ConfigError: a value cannot be cast or is out of range.
    """
    config = Config(environ=dict(os.environ if environ is None else environ))
    try:
        values: dict[str, object] = {
            "database_url": config("DATABASE_URL", default=DEFAULT_DATABASE_URL),
            "redis_url": config("REDIS_URL", default=""),
            "broker_prefix": config("BROKER_PREFIX", default="atelier:"),
            "host": config("HOST", default="127.0.0.1"),
            "port": config("PORT", cast=int, default=8000),
            "allowed_origins": _origins(config("ALLOWED_ORIGINS", default="")),
            "rate_limit_messages": config("RATE_LIMIT_MESSAGES", cast=int, default=20),
            "rate_limit_window_secs": config("RATE_LIMIT_WINDOW_SECS", cast=float, default=10.0),
            "replay_limit": config("REPLAY_LIMIT", cast=int, default=50_000),
            "send_queue_limit": config("SEND_QUEUE_LIMIT", cast=int, default=2_000),
            "hub_poll_secs": config("HUB_POLL_SECS", cast=float, default=5.0),
            "log_level": config("LOG_LEVEL", default="info"),
        }
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    values.update(overrides)
    settings = Settings(**values)  # type: ignore[arg-type]
    if not settings.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    if settings.redis_url and not settings.redis_url.startswith(("redis://", "rediss://")):
        raise ConfigError("REDIS_URL must start with redis:// or rediss://")
    if settings.send_queue_limit < 10 or settings.rate_limit_messages < 1:
        raise ConfigError("SEND_QUEUE_LIMIT must be >= 10 and RATE_LIMIT_MESSAGES >= 1")
    return settings
