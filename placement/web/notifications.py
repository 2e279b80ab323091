"""The signed-in user's notifications page, and the unread count in every page's header."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from placement.flask_db import db_session
from placement.services import notifications
from placement.web.common import SignedIn, actor, page_arg, role_required

bp = Blueprint("notifications_page", __name__)

PER_PAGE = 20
ANY_ROLE = notifications.ANY_ROLE
_URL = re.compile(r"(https?://\S+)")


@dataclass(frozen=True)
class Piece:
    """A run of a notification's text; `href` when it is a link."""

    text: str
    href: str | None = None


def paragraphs(body: str) -> list[list[list[Piece]]]:
    """A notification's text as paragraphs of lines of pieces. The mail's links become
    links to the page's path on this site (short enough for a phone screen)."""
    out = []
    for paragraph in body.split("\n\n"):
        lines = []
        for line in paragraph.strip().split("\n"):
            pieces = []
            for i, part in enumerate(_URL.split(line.strip())):
                if i % 2 == 0:
                    if part:
                        pieces.append(Piece(part))
                    continue
                parts = urlsplit(part)
                path = parts.path or "/"
                pieces.append(Piece(path, path + (f"?{parts.query}" if parts.query else "")))
            lines.append(pieces)
        out.append(lines)
    return out


@bp.app_context_processor
def unread_notifications() -> dict[str, Any]:
    """`unread_notifications()` in templates: the signed-in user's unread count (0 when
    signed out), counted only when a page asks for it."""

    def count() -> int:
        if not current_user.is_authenticated:
            return 0
        return notifications.unread_count(
            session=db_session(), actor=cast(SignedIn, current_user).user
        )

    return {"unread_notifications": count}


@bp.get("/notifications")
@role_required(*ANY_ROLE)
def index() -> Any:
    page = notifications.list_notifications(
        session=db_session(), actor=actor(), page=page_arg(), per_page=PER_PAGE
    )
    return render_template(
        "notifications.html", title="Your messages", page=page, paragraphs=paragraphs
    )


@bp.post("/notifications/<id:notification_id>/read")
@role_required(*ANY_ROLE)
def mark_read(notification_id: int) -> Any:
    notifications.mark_read(session=db_session(), actor=actor(), notification_id=notification_id)
    flash("Marked as read.", "success")
    return redirect(url_for(".index"))


@bp.post("/notifications/read-all")
@role_required(*ANY_ROLE)
def mark_all_read() -> Any:
    count = notifications.mark_all_read(session=db_session(), actor=actor())
    flash(f"Marked {count} message{'s' if count != 1 else ''} as read.", "success")
    return redirect(url_for(".index"))
