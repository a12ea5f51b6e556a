"""Settings: the only reader of the environment, read once, typed, failing fast.

Every variable has a default that gives the embedded mode (SQLite file + in-process
broker), so ``make run`` needs nothing installed. Production sets ``DATABASE_URL`` to
PostgreSQL and ``REDIS_URL`` so several processes share rooms. The README's
configuration table lists these same names.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from starlette.config import Config

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{ROOT / 'var' / 'atelier.db'}"
DEFAULT_OIDC_DISPLAY_NAME = "ProConnect"
DEFAULT_OIDC_SCOPES = "openid email profile"
DEFAULT_CONTACT_EMAIL = "assemblee-territoires@laregion.fr"
DEFAULT_MAIL_FROM = "Atelier <atelier@assemblee-territoires.invalid>"


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
    session_check_secs: float = 60.0
    ws_ping_interval_secs: float = 20.0
    ws_ping_timeout_secs: float = 20.0
    default_locale: str = "fr"
    log_level: str = "info"
    web_dir: Path = field(default=ROOT / "web")
    # OpenID Connect sign-in (``server/oidc.py``, ``docs/oidc.md``): off unless the
    # issuer and the client id are both set.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    oidc_display_name: str = DEFAULT_OIDC_DISPLAY_NAME
    oidc_scopes: str = DEFAULT_OIDC_SCOPES
    # Signs the short-lived OpenID Connect state cookie. Empty: a random key is made at
    # start (``server.oidc.signing_key``), which only works with a single process.
    secret_key: str = field(default="", repr=False)
    # Whom people who are not members are told to write to (the comité d'animation).
    contact_email: str = DEFAULT_CONTACT_EMAIL
    # Mail (invitations, password resets): SMTP in production; without SMTP_URL each
    # mail is written to MAIL_OUTBOX_DIR and its link logged, so ``make run`` needs none.
    smtp_url: str = field(default="", repr=False)
    mail_from: str = DEFAULT_MAIL_FROM
    mail_outbox_dir: Path = field(default=ROOT / "var" / "mail")
    # The address members use, for links in mails; empty: taken from the request.
    public_url: str = ""
    # Moderation: a message flagged by this many members is hidden pending review.
    flag_hide_threshold: int = 3
    # Set by ``atelier run --demo``: the sign-in page shows the demo accounts' password.
    demo: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def site_url(self) -> str:
        """Links in mail sent without a request (reminders): ``PUBLIC_URL``, else where
        this process listens."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)


def _origins(value: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _check_oidc(settings: Settings) -> None:
    if bool(settings.oidc_issuer) != bool(settings.oidc_client_id):
        raise ConfigError("OIDC_ISSUER and OIDC_CLIENT_ID must be set together (or neither)")
    if not settings.oidc_enabled:
        return
    issuer = urlsplit(settings.oidc_issuer)
    if issuer.query or issuer.fragment or not issuer.hostname:
        raise ConfigError("OIDC_ISSUER must be a URL without query or fragment")
    if issuer.scheme != "https" and not (issuer.scheme == "http" and _is_loopback(issuer.hostname)):
        raise ConfigError("OIDC_ISSUER must start with https:// (http:// only on loopback)")
    if "openid" not in settings.oidc_scopes.split():
        raise ConfigError("OIDC_SCOPES must include openid")
    if not settings.oidc_display_name.strip():
        raise ConfigError("OIDC_DISPLAY_NAME must not be empty")


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
            "session_check_secs": config("SESSION_CHECK_SECS", cast=float, default=60.0),
            "log_level": config("LOG_LEVEL", default="info"),
            "oidc_issuer": config("OIDC_ISSUER", default="").strip(),
            "oidc_client_id": config("OIDC_CLIENT_ID", default="").strip(),
            "oidc_client_secret": config("OIDC_CLIENT_SECRET", default=""),
            "oidc_display_name": config("OIDC_DISPLAY_NAME", default=DEFAULT_OIDC_DISPLAY_NAME),
            "oidc_scopes": config("OIDC_SCOPES", default=DEFAULT_OIDC_SCOPES),
            "secret_key": config("SECRET_KEY", default=""),
            "contact_email": config("CONTACT_EMAIL", default=DEFAULT_CONTACT_EMAIL),
            "smtp_url": config("SMTP_URL", default=""),
            "mail_from": config("MAIL_FROM", default=DEFAULT_MAIL_FROM),
            "mail_outbox_dir": Path(config("MAIL_OUTBOX_DIR", default=str(ROOT / "var" / "mail"))),
            "public_url": config("PUBLIC_URL", default="").rstrip("/"),
            "flag_hide_threshold": config("FLAG_HIDE_THRESHOLD", cast=int, default=3),
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
    if settings.flag_hide_threshold < 1:
        raise ConfigError("FLAG_HIDE_THRESHOLD must be >= 1")
    if settings.smtp_url and urlsplit(settings.smtp_url).scheme not in ("smtp", "smtps"):
        raise ConfigError("SMTP_URL must start with smtp:// or smtps://")
    if settings.secret_key and len(settings.secret_key) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters long")
    _check_oidc(settings)
    return settings
