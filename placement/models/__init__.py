"""The data model, one module per area. The database itself enforces the invariants
(checks, unique and partial indexes, foreign keys); services rely on them rather than on
checks alone. Every name is importable from `placement.models`."""

from __future__ import annotations

from sqlmodel import SQLModel

from placement.models.accounts import (
    LINK_PURPOSES,
    ApiToken,
    EmailLink,
    LoginFailure,
    RecoveryCode,
    User,
    WebSession,
)
from placement.models.actor_guard import AccountGone, note_actors, watch
from placement.models.audit import AuditEvent
from placement.models.base import (
    DBS_LEVELS,
    DBS_SOURCES,
    DEFAULT_DBS_MAX_AGE_YEARS,
    ENDED_OFFERS,
    HOLDING_OFFERS,
    OFFER_STATUSES,
    ORGANISATION_KINDS,
    PLACEMENT_STATUSES,
    PROPOSAL_STATUSES,
    ROLES,
    ROUND_STATUSES,
    RUN_MODES,
    RUN_PHASES,
    RUN_STATUSES,
    UNPLACED_REASONS,
    OfferStatus,
    PlacementStatus,
    ProposalStatus,
    RoundStatus,
    RunStatus,
    UTCDateTime,
    utcnow,
)
from placement.models.jobs import JOB_KINDS, JOB_STATUSES, Job, JobStatus
from placement.models.mail import OUTBOX_STATUSES, Notification, OutboxMessage
from placement.models.placements import Placement
from placement.models.postcodes import DistrictCentre, Postcode
from placement.models.rounds import (
    EmployerRanking,
    Exclusion,
    Organisation,
    Preference,
    Round,
    RoundTrainee,
    Slot,
    Trainee,
    TraineeNote,
)
from placement.models.runs import (
    MatchRun,
    Proposal,
    RunExplanation,
    RunSeatValue,
    UnplacedTrainee,
)
from placement.models.vetting import Accreditation, DbsCheck, PlacementSafety, Verification

# SQLite hands out the highest deleted rowid again unless a table says AUTOINCREMENT; audit
# events, exports and run instances name rows by id, so ids are never reused, on SQLite as on
# Postgres (whose sequences never go back). Every table is defined by now.
for _table in SQLModel.metadata.tables.values():
    if [column.name for column in _table.primary_key.columns] == ["id"]:
        _table.dialect_kwargs["sqlite_autoincrement"] = True

# The who-acted columns without a foreign key, checked once per transaction instead.
watch(AuditEvent, "actor_id")
watch(Placement, "approved_by")
watch(Proposal, "decided_by")

__all__ = [
    "DBS_LEVELS",
    "DBS_SOURCES",
    "DEFAULT_DBS_MAX_AGE_YEARS",
    "ENDED_OFFERS",
    "HOLDING_OFFERS",
    "JOB_KINDS",
    "JOB_STATUSES",
    "LINK_PURPOSES",
    "OFFER_STATUSES",
    "ORGANISATION_KINDS",
    "OUTBOX_STATUSES",
    "PLACEMENT_STATUSES",
    "PROPOSAL_STATUSES",
    "ROLES",
    "ROUND_STATUSES",
    "RUN_MODES",
    "RUN_PHASES",
    "RUN_STATUSES",
    "UNPLACED_REASONS",
    "AccountGone",
    "Accreditation",
    "ApiToken",
    "AuditEvent",
    "DbsCheck",
    "DistrictCentre",
    "EmailLink",
    "EmployerRanking",
    "Exclusion",
    "Job",
    "JobStatus",
    "LoginFailure",
    "MatchRun",
    "Notification",
    "OfferStatus",
    "Organisation",
    "OutboxMessage",
    "Placement",
    "PlacementSafety",
    "PlacementStatus",
    "Postcode",
    "Preference",
    "Proposal",
    "ProposalStatus",
    "RecoveryCode",
    "Round",
    "RoundStatus",
    "RoundTrainee",
    "RunExplanation",
    "RunSeatValue",
    "RunStatus",
    "Slot",
    "Trainee",
    "TraineeNote",
    "UTCDateTime",
    "UnplacedTrainee",
    "User",
    "Verification",
    "WebSession",
    "note_actors",
    "utcnow",
]
