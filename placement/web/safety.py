"""The safety details form of a placement: the host fills it in, a coordinator signs it
off, the placed trainee reads it. Shared by the employer's and the coordinator's pages."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request

from placement.flask_db import db_session
from placement.services import vetting
from placement.services.pages import vetting as pages
from placement.services.validation import SafetyFields
from placement.web.common import actor, attempt, load_form, view_context

SAFETY_FORM = vetting.SAFETY_FIELDS
CHECKS = ("induction_arranged", "risk_assessment_done", "insurance_confirmed")


def safety_form(placement_id: int, *, back: str, sign_off_url: str | None = None) -> Any:
    view = pages.safety_page(db_session(), actor(), placement_id)
    values: dict[str, Any] = {name: getattr(view.safety, name) for name in SAFETY_FORM}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST" and view.editable:
        values = dict(request.form.to_dict())
        for name in CHECKS:
            values[name] = name in request.form
        saved = attempt(
            lambda: vetting.update_safety(
                session=db_session(),
                actor=actor(),
                placement_id=placement_id,
                values=load_form(SafetyFields(), request.form, SAFETY_FORM),
            )
        )
        if saved.ok:
            flash("The safety details are saved.", "success")
            return redirect(request.path)
        errors, status = saved.errors, saved.status
    return render_template(
        "safety.html",
        title=f"Safety details: {view.slot.title}",
        values=values,
        errors=errors,
        back=back,
        sign_off_url=sign_off_url,
        **view_context(view),
    ), status
