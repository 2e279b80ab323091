"""Settings read from the environment, shared by the web app, the CLI and the workers."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

# Where the JSON API lives; everything else is a page.
API_PREFIX = "/api/"

DEFAULT_INSTANCE_DIR = Path(os.environ.get("PLACEMENT_INSTANCE_DIR", "instance")).resolve()


class ConfigError(RuntimeError):
    """The environment does not describe a usable configuration."""


def _read_or_create_secret(path: Path) -> str:
    """Generate the embedded default's secret key once and keep it beside the database."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together must agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _existing_file(env: dict[str, str], variable: str) -> Path | None:
    raw = env.get(variable, "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not path.is_file():
        raise ConfigError(f"{variable} names {raw}, which is not a file")
    return path


def _roles(raw: str) -> tuple[str, ...]:
    roles = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    unknown = [r for r in roles if r not in {"trainee", "employer", "coordinator"}]
    if unknown:
        raise ConfigError(f"PLACEMENT_REQUIRE_MFA names unknown roles: {', '.join(unknown)}")
    return roles


RETENTION_DEFAULTS = {
    # setting: (environment variable, default days)
    "retain_failed_logins_days": ("PLACEMENT_RETAIN_FAILED_LOGINS_DAYS", 90),
    "retain_tokens_days": ("PLACEMENT_RETAIN_TOKENS_DAYS", 30),
    "retain_read_notifications_days": ("PLACEMENT_RETAIN_READ_NOTIFICATIONS_DAYS", 180),
    "retain_unpublished_instances_days": ("PLACEMENT_RETAIN_UNPUBLISHED_INSTANCES_DAYS", 90),
}


def _retention(env: dict[str, str]) -> dict[str, int]:
    values: dict[str, int] = {}
    for name, (variable, default) in RETENTION_DEFAULTS.items():
        raw = env.get(variable, "").strip() or str(default)
        try:
            days = int(raw)
        except ValueError:
            raise ConfigError(f"{variable} must be a whole number of days, not {raw!r}") from None
        if days < 1:
            raise ConfigError(f"{variable} must be at least 1 day")
        values[name] = days
    return values


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    result_backend: str
    redis_url: str | None
    secret_key: str
    instance_dir: Path
    requeue_after: float = 60.0
    max_upload_bytes: int = 20 * 1024 * 1024
    # Failed sign-ins per (account, address); see placement/services/throttle.py.
    ratelimit_login: str = "5 per 15 minutes"
    ratelimit_storage_uri: str = "memory://"
    session_cookie_secure: bool = False
    testing: bool = False
    # Retention (`placement purge` and its periodic job): days kept after the fact.
    retain_failed_logins_days: int = 90
    retain_tokens_days: int = 30
    retain_read_notifications_days: int = 180
    retain_unpublished_instances_days: int = 90
    # Mail: `smtp://host:port` or `smtps://user:pass@host:port`; None writes .eml files
    # under instance/mail/. Links in mail start with `base_url`.
    mail_url: str | None = None
    mail_from: str = "Placement <no-reply@placement.localhost>"
    base_url: str = "http://127.0.0.1:5000"
    # A failed send is tried again after base, 2 x base, 4 x base ... seconds (at most an
    # hour apart), `mail_max_attempts` times in all.
    mail_retry_base: float = 30.0
    mail_max_attempts: int = 8
    # How often beat sends the outbox sweep (mail the broker lost goes out within about this).
    mail_sweep_seconds: float = 60.0
    # Bearer tokens and page sessions end after this long unused, and this long in all.
    session_idle_hours: float = 8.0
    session_max_days: float = 30.0
    # Roles that must turn on a second factor (TOTP) before doing anything else.
    require_mfa: tuple[str, ...] = ()
    # Registrations (and other account mail requests) from one address, per hour.
    ratelimit_register: str = "20 per hour"
    # The pages run approve-all, imports and the instance export in the background (a job
    # with a progress bar) from this many rows or proposals up.
    background_rows: int = 2000

    @property
    def mail_dir(self) -> Path:
        return self.instance_dir / "mail"

    # A self-hosted postcodes.io (https://postcodes.io) asked before the postcodes table.
    postcodes_io_url: str | None = None
    # Keys for secrets at rest (TOTP), comma-separated, newest first; None: SECRET_KEY.
    # See placement/encryption.py.
    encryption_key: str | None = None
    # A PEM file of CA certificates the mail client trusts (besides the system's) for
    # smtps:// and STARTTLS: a private CA, or a test's.
    mail_ca_file: Path | None = None

    @property
    def encryption_keys(self) -> tuple[str, ...]:
        keys = [part.strip() for part in (self.encryption_key or "").split(",")]
        return tuple(key for key in keys if key) or (self.secret_key,)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_broker(self) -> bool:
        return self.redis_url is None and self.broker_url.startswith("sqla+")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = dict(os.environ if env is None else env)
        instance_dir = Path(env.get("PLACEMENT_INSTANCE_DIR", str(DEFAULT_INSTANCE_DIR))).resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_dir / 'placement.sqlite'}"
        if database_url.startswith("postgres://"):
            database_url = "postgresql://" + database_url.removeprefix("postgres://")
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
        redis_url = env.get("REDIS_URL") or None
        broker_url = (
            env.get("CELERY_BROKER_URL")
            or redis_url
            or f"sqla+sqlite:///{instance_dir / 'broker.sqlite'}"
        )
        result_backend = (
            env.get("CELERY_RESULT_BACKEND")
            or redis_url
            or f"db+sqlite:///{instance_dir / 'results.sqlite'}"
        )
        secret_key = env.get("SECRET_KEY", "")
        if not secret_key:
            if not database_url.startswith("sqlite"):
                raise ConfigError("SECRET_KEY must be set when the database is not SQLite")
            secret_key = _read_or_create_secret(instance_dir / "secret_key")
        mail_url = env.get("MAIL_URL") or None
        if mail_url is not None and not mail_url.startswith(("smtp://", "smtps://")):
            raise ConfigError(
                "MAIL_URL must look like smtp://host:port or smtps://user:pass@host:port"
            )
        values: dict[str, object] = {
            "database_url": database_url,
            "broker_url": broker_url,
            "result_backend": result_backend,
            "redis_url": redis_url,
            "secret_key": secret_key,
            "instance_dir": instance_dir,
            "requeue_after": float(env.get("PLACEMENT_REQUEUE_AFTER", "60")),
            "max_upload_bytes": int(env.get("PLACEMENT_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024))),
            "ratelimit_login": env.get("PLACEMENT_LOGIN_RATE_LIMIT", "5 per 15 minutes"),
            "ratelimit_storage_uri": env.get("RATELIMIT_STORAGE_URI") or redis_url or "memory://",
            "session_cookie_secure": env.get("SESSION_COOKIE_SECURE", "") in {"1", "true", "yes"},
            "mail_url": mail_url,
            "mail_from": env.get("MAIL_FROM") or "Placement <no-reply@placement.localhost>",
            "base_url": (env.get("PLACEMENT_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
            "mail_retry_base": float(env.get("MAIL_RETRY_BASE_SECONDS", "30")),
            "mail_max_attempts": int(env.get("MAIL_MAX_ATTEMPTS", "8")),
            "mail_sweep_seconds": float(env.get("MAIL_SWEEP_SECONDS", "60")),
            "session_idle_hours": float(env.get("PLACEMENT_SESSION_IDLE_HOURS", "8")),
            "session_max_days": float(env.get("PLACEMENT_SESSION_MAX_DAYS", "30")),
            "require_mfa": _roles(env.get("PLACEMENT_REQUIRE_MFA", "")),
            "ratelimit_register": env.get("PLACEMENT_REGISTER_RATE_LIMIT", "20 per hour"),
            **_retention(env),
            "background_rows": int(env.get("PLACEMENT_BACKGROUND_ROWS", "2000")),
            "postcodes_io_url": env.get("POSTCODES_IO_URL") or None,
            "encryption_key": env.get("PLACEMENT_ENCRYPTION_KEY") or None,
            "mail_ca_file": _existing_file(env, "MAIL_CA_FILE"),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
