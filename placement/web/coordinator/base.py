"""The coordinator pages' blueprint: coordinators only; errors render as pages."""

from __future__ import annotations

from flask import Blueprint

from placement.web.common import role_required

bp = Blueprint("coordinator", __name__, url_prefix="/coordinator")


@bp.before_request
@role_required("coordinator")
def _coordinators_only() -> None:
    return None
