"""Host organisations to verify, and the audit log."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for

from placement.flask_db import db_session
from placement.services import organisations
from placement.services.pages import rounds as pages
from placement.web.common import actor, page_arg, search_arg, view_context
from placement.web.coordinator.base import bp


@bp.get("/organisations", endpoint="organisations")
def organisations_page() -> Any:
    view = pages.organisations_page(db_session(), actor(), page=page_arg())
    return render_template(
        "coordinator/organisations.html", title="Host organisations", **view_context(view)
    )


@bp.post("/organisations/<id:organisation_id>/verify")
def verify(organisation_id: int) -> Any:
    org = organisations.verify_organisation(
        session=db_session(), actor=actor(), organisation_id=organisation_id
    )
    flash(f"{org.name} is verified: it can now post slots.", "success")
    return redirect(url_for(".organisations"))


@bp.get("/audit")
def audit_log() -> Any:
    action = search_arg("action") or None
    view = pages.audit_page(db_session(), actor(), action=action, page=page_arg())
    return render_template(
        "coordinator/audit.html", title="Audit log", action=action or "", **view_context(view)
    )
