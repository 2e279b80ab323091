"""Audit action names follow one style, noun.verb (round.open, proposal.approve, ...).

Revision ID: 5a1d7c3e9b20
Revises: 9884cd18df6f
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "5a1d7c3e9b20"
down_revision: str | None = "9884cd18df6f"
branch_labels = None
depends_on = None

RENAMED = {
    "round_created": "round.create",
    "round_open": "round.open",
    "round_close": "round.close",
    "round_publish": "round.publish",
    "register": "account.register",
    "login_failed": "login.fail",
    "request_denied": "request.deny",
    "organisation_created": "organisation.create",
    "organisation_updated": "organisation.update",
    "organisation_verified": "organisation.verify",
    "slot_created": "slot.create",
    "slot_updated": "slot.update",
    "slot_deleted": "slot.delete",
    "rankings_set": "ranking.set",
    "import_trainees": "trainee.import",
    "import_slots": "slot.import",
    "trainee_created": "trainee.create",
    "trainee_updated": "trainee.update",
    "trainee_erased": "trainee.erase",
    "proposal_approved": "proposal.approve",
    "proposal_rejected": "proposal.reject",
    "run_approved_all": "run.approve_all",
    "placement_withdrawn": "placement.withdraw",
}


def _rename(pairs: dict[str, str]) -> None:
    statement = sa.text("UPDATE audit_events SET action = :new WHERE action = :old")
    for old, new in pairs.items():
        op.execute(statement.bindparams(old=old, new=new))


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})
