"""Importing a round's trainees or slots from a CSV file: preview, then import."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for

from placement.flask_db import current_settings, db_session
from placement.services import jobs, spreadsheets
from placement.services.imports import IMPORTERS
from placement.services.pages import jobs as job_pages
from placement.services.pages import rounds as pages
from placement.web.common import actor, attempt
from placement.web.coordinator.base import bp

PREVIEW_ROWS = 20


@bp.route("/rounds/<id:round_id>/import/<any(trainees, slots):kind>", methods=["GET", "POST"])
def import_page(round_id: int, kind: str) -> Any:
    view = pages.import_page(db_session(), actor(), round_id, kind)
    context: dict[str, Any] = {
        "title": f"Import {kind}",
        "round": view.round,
        "kind": kind,
        "columns": view.columns,
        "required": view.required,
        "csv_text": "",
        "preview": None,
        "problems": [],
        "message": None,
        "would": None,
        "large": False,
    }
    status = 200
    if request.method == "POST":
        data = _uploaded_csv()
        if data is None:
            context["message"] = "Choose a CSV file to import."
            return render_template("coordinator/import.html", **context), 422
        if spreadsheets.is_xlsx(data, _filename()):
            # A workbook's first sheet, read as the same rows a CSV file gives.
            workbook = data
            converted = attempt(lambda: spreadsheets.xlsx_to_csv(workbook))
            if converted.value is None:
                context.update(message=converted.message, problems=_rows_of(converted.refusal))
                return render_template("coordinator/import.html", **context), converted.status
            data = converted.value
        context["csv_text"] = data.decode("utf-8-sig", errors="replace")
        large = job_pages.file_rows(data) > current_settings().background_rows
        context["large"] = large
        if request.form.get("step") == "import" and large:
            # A large file is checked and imported in the background, with a progress bar.
            job = jobs.start_job(
                session=db_session(),
                actor=actor(),
                settings=current_settings(),
                kind=f"import_{kind}",
                round_id=round_id,
                payload=data,
            )
            return redirect(url_for(".job_page", job_id=job.id))
        if request.form.get("step") == "import":
            done = attempt(
                lambda: IMPORTERS[kind](
                    session=db_session(),
                    actor=actor(),
                    round_id=round_id,
                    data=data,
                    settings=current_settings(),
                )
            )
            if done.value is not None:
                flash(
                    f"Imported {kind}: {done.value.created} created, {done.value.updated} updated.",
                    "success",
                )
                return redirect(url_for(".round_page", round_id=round_id))
            context.update(message=done.message, problems=_rows_of(done.refusal))
            status = done.status
        preview = attempt(lambda: pages.import_preview(kind, data, limit=PREVIEW_ROWS))
        if preview.value is not None and not context["problems"] and not large:
            # Every value is checked now, as the import would: problems show before "Import".
            check = attempt(lambda: pages.import_check(db_session(), actor(), round_id, kind, data))
            if check.value is None:
                context.update(message=check.message, problems=_rows_of(check.refusal))
                status = check.status
            else:
                context["would"] = check.value
        if preview.value is None:
            context.update(message=preview.message, problems=_rows_of(preview.refusal))
            status = preview.status
        else:
            context["preview"] = {
                "header": preview.value.header,
                "rows": preview.value.rows,
                "total": preview.value.total,
                "bad_rows": {p.get("row") for p in context["problems"]},
            }
    return render_template("coordinator/import.html", **context), status


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/rounds/<id:round_id>/import/<any(trainees, slots):kind>/template.<any(csv, xlsx):fmt>")
def import_template(round_id: int, kind: str, fmt: str) -> Any:
    pages.import_page(db_session(), actor(), round_id, kind)  # the round must be theirs
    text = pages.import_template(kind)
    body: str | bytes = text
    if fmt == "xlsx":
        body = spreadsheets.csv_to_xlsx(text, title=kind.capitalize())
    return Response(
        body,
        mimetype="text/csv" if fmt == "csv" else XLSX,
        headers={"Content-Disposition": f'attachment; filename="{kind}-template.{fmt}"'},
    )


def _filename() -> str:
    upload = request.files.get("file")
    return upload.filename or "" if upload is not None else ""


def _rows_of(refusal: Any) -> list[dict[str, Any]]:
    """The import's problems, one per bad row and field."""
    errors = getattr(refusal, "errors", None)
    return errors if isinstance(errors, list) else []


def _uploaded_csv() -> bytes | None:
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        return upload.read()
    text = request.form.get("csv_text", "")
    return text.encode("utf-8") if text.strip() else None
