"""Host organisations to verify, and the audit log."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from placement.errors import Conflict, InvalidInput
from placement.flask_db import db_session
from placement.services import audit, bulk, organisations
from placement.services.pages import hosts as pages
from placement.services.validation import MAX_ID
from placement.web.common import actor, attempt, page_arg, search_arg, text, view_context
from placement.web.coordinator.base import bp
from placement.web.coordinator.trainees import counted, posted_ids


@bp.get("/organisations", endpoint="organisations")
def organisations_page() -> Any:
    view = pages.organisations_page(db_session(), actor(), page=page_arg())
    return render_template(
        "coordinator/organisations.html", title="Host organisations", **view_context(view)
    )


@bp.post("/organisations/<id:organisation_id>/verify")
def verify(organisation_id: int) -> Any:
    done = attempt(
        lambda: organisations.verify_organisation(
            session=db_session(),
            actor=actor(),
            organisation_id=organisation_id,
            seen=text(request.form, "seen"),
        ),
        refused=(Conflict, InvalidInput),
    )
    if done.value is not None:
        flash(f"{done.value.name} is verified: it can now post slots.", "success")
    else:
        problems = [m for messages in done.errors.values() for m in messages]
        flash(" ".join([done.message, *problems]), "error")
    return redirect(url_for(".host", organisation_id=organisation_id))


@bp.post("/organisations/verify", endpoint="verify_hosts")
def verify_hosts() -> Any:
    ids = posted_ids("organisation_id")
    if not ids:
        flash("Select at least one host first.", "error")
        return redirect(url_for(".organisations"))
    done = attempt(
        lambda: bulk.verify_hosts(
            session=db_session(),
            actor=actor(),
            organisation_ids=ids,
            seen=text(request.form, "seen"),
        )
    )
    if done.value is None:
        problems = [m for messages in done.errors.values() for m in messages]
        flash(" ".join([done.message, *problems]), "error")
    else:
        counted(done.value, "{n} host{s} verified: they can now post slots.", none="Not verified:")
    return redirect(url_for(".organisations"))


@bp.get("/audit")
def audit_log() -> Any:
    filters = audit.AuditFilters(
        action=search_arg("action", 50) or None,
        person=search_arg("person", 200) or None,
        round_id=_round_arg(),
        since=_date_arg("since"),
        until=_date_arg("until"),
    )
    if filters.since and filters.until and filters.since > filters.until:
        raise InvalidInput(errors={"until": ["must not be before the “from” date"]})
    view = audit.audit_page(session=db_session(), actor=actor(), filters=filters, page=page_arg())
    return render_template("coordinator/audit.html", title="Audit log", **view_context(view))


def _round_arg() -> int | None:
    raw = search_arg("round")
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > MAX_ID:
        raise InvalidInput(errors={"round": ["choose a round from the list"]})
    return int(raw)


def _date_arg(name: str) -> date | None:
    raw = search_arg(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            errors={name: ["must be a date such as 2027-09-13 (year, month, day)"]}
        ) from None
