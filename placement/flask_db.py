"""The request's database session and settings, for the pages and the API.

Below the app factory (as the Flask tutorial's `flaskr/db.py`): blueprints import from
here, and `placement.app` imports the blueprints, so the arrows point one way.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy.engine import Connection
from sqlmodel import Session

from placement.config import Settings
from placement.db import SETTINGS_KEY, for_writing


def settings_of(app: Flask) -> Settings:
    settings: Settings = app.extensions["placement_settings"]
    return settings


def current_settings() -> Settings:
    return settings_of(current_app)


def db_session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        bind = current_app.extensions["placement_bind"]
        # The settings ride on the session: mail queued in it is enqueued after its commit.
        kwargs: dict[str, Any] = {
            "expire_on_commit": False,
            "info": {SETTINGS_KEY: current_settings()},
        }
        if isinstance(bind, Connection):
            kwargs["join_transaction_mode"] = "create_savepoint"
        else:
            # Even a GET may write (the audit of a refused request, a token's last use).
            bind = for_writing(bind)
        g.db_session = Session(bind, **kwargs)
    session: Session = g.db_session
    return session


def register_db(app: Flask) -> None:
    @app.teardown_appcontext
    def close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()
