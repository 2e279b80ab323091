"""Apply and check migrations programmatically (used by `placement migrate` and the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from placement.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str, settings: Settings | None = None) -> Config:
    """`settings` gives data migrations their keys (the TOTP secrets'); without them those
    read the environment."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    cfg.attributes["configure_logger"] = False
    if settings is not None:
        cfg.attributes["settings"] = settings
    return cfg


def upgrade(database_url: str, revision: str = "head", *, settings: Settings | None = None) -> None:
    command.upgrade(alembic_config(database_url, settings), revision)


def downgrade(database_url: str, revision: str, *, settings: Settings | None = None) -> None:
    command.downgrade(alembic_config(database_url, settings), revision)


def check(database_url: str) -> None:
    """Raise if the models and the migrations have drifted apart."""
    command.check(alembic_config(database_url))
