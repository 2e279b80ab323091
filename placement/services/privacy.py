"""Personal data: a trainee's export of everything held about them, and erasure."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, delete, func, or_, update
from sqlmodel import Session, SQLModel, col, select

from placement.models import (
    ApiToken,
    AuditEvent,
    EmployerRanking,
    Exclusion,
    Placement,
    Preference,
    Proposal,
    RoundTrainee,
    Slot,
    Trainee,
    TraineeNote,
    UnplacedTrainee,
    User,
    utcnow,
)
from placement.services import vetting
from placement.services.common import audit, snapshot, trainee_of
from placement.services.runs.stored import lock_round_for_instances, scrub_stored_instances
from placement.services.trainees import get_trainee

ERASED_NAME = "Erased trainee"

# What `privacy.erase_trainee` does, in words. Every trainee field is on one list or the
# other (a test holds these lists to the service's behaviour).
ERASURE_REMOVED: tuple[tuple[tuple[str, ...], str], ...] = (
    (("name",), "Their name: from now on they are shown as “Erased trainee”"),
    (("email",), "Their email address"),
    (("provider",), "Their college or training provider"),
    (("skills",), "Their skills"),
    (("postcode", "latitude", "longitude"), "Their home postcode and location"),
    (("max_travel_km",), "How far they can travel"),
    (("available_from", "available_to"), "When they are available"),
    (("dbs_cleared", "dbs_checked_on"), "Their DBS checks: certificate numbers, levels, dates"),
    (
        ("needs", "share_needs"),
        "What they told us about their needs, whether hosts may see them, and why they "
        "declined any offer",
    ),
    (
        ("user_id",),
        "Their login, if they have one: the account's email, name and password, and its "
        "sessions and API tokens (they are signed out everywhere)",
    ),
    ((), "The IP addresses recorded with the things they did"),
    (
        (),
        "Their name, email address and postcode wherever they are mentioned: reasons for "
        "decisions, exclusions, the audit log (with the old and new values of changes to "
        "their profile) and messages",
    ),
    ((), "Coordinators' notes on their record"),
    (
        (),
        "Their entry in the stored input of every match run in their rounds (the input is "
        "rewritten without them and gets a new fingerprint; the audit log keeps the old one)",
    ),
)
ERASURE_KEPT: tuple[tuple[tuple[str, ...], str], ...] = (
    (("id", "level"), "An anonymous record with its number and qualification level"),
    ((), "The rounds they took part in, their ranked choices and employers' rankings of them"),
    ((), "Match runs' proposals for them, and why a run did not place them"),
    (
        (),
        "Their placements, live or withdrawn: they stay counted, and appear as "
        "“Erased trainee” in lists and in the CSV export",
    ),
    ((), "The audit log of what was done, without their name, login or IP address"),
    (("created_at", "updated_at", "erased_at"), "When the record was made, changed and erased"),
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _row(obj: SQLModel, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: _plain(v) for k, v in obj.model_dump().items() if k not in skip}


ACCOUNT_SECRETS = (
    "password_hash",
    "password_changed_at",
    "mfa_secret",
    "mfa_pending_secret",
    "mfa_last_step",
)


def export_own_data(*, session: Session, actor: User) -> dict[str, Any]:
    """Every piece of personal data held about the calling trainee, as plain JSON."""
    trainee = trainee_of(session, actor)
    tid = trainee.id

    def rows(model: type[SQLModel], *where: Any, skip: tuple[str, ...] = ()) -> list[Any]:
        return [_row(r, skip=skip) for r in session.exec(select(model).where(*where))]

    slot_titles = {
        s.id: s.title
        for s in session.exec(
            select(Slot).where(
                col(Slot.id).in_(select(Preference.slot_id).where(Preference.trainee_id == tid))
            )
        )
    }
    preferences = rows(Preference, Preference.trainee_id == tid)
    for p in preferences:
        p["slot_title"] = slot_titles.get(p["slot_id"])
    proposals = rows(Proposal, Proposal.trainee_id == tid, skip=("decided_by",))
    placements = rows(Placement, Placement.trainee_id == tid, skip=("approved_by",))
    # What others did about them: on their record, their proposals and placements. Who
    # did it and from where is the staff's data, not the trainee's.
    about = or_(
        col(AuditEvent.trainee_id) == tid,
        and_(col(AuditEvent.object_type) == "trainee", col(AuditEvent.object_id) == str(tid)),
        and_(
            col(AuditEvent.object_type) == "proposal",
            col(AuditEvent.object_id).in_([str(p["id"]) for p in proposals]),
        ),
        and_(
            col(AuditEvent.object_type) == "placement",
            col(AuditEvent.object_id).in_([str(p["id"]) for p in placements]),
        ),
    )
    return {
        **vetting.export_for(session, trainee),
        "format": "placement-personal-data/1",
        "exported_at": utcnow().isoformat(),
        # Secrets stay out: the password hash and the TOTP secrets.
        "account": _row(actor, skip=ACCOUNT_SECRETS),
        "profile": _row(trainee),
        "rounds": rows(RoundTrainee, RoundTrainee.trainee_id == tid),
        "preferences": preferences,
        "employer_rankings": rows(EmployerRanking, EmployerRanking.trainee_id == tid, skip=("id",)),
        "exclusions": rows(Exclusion, Exclusion.trainee_id == tid, skip=("created_by",)),
        "proposals": proposals,
        "unplaced": rows(UnplacedTrainee, UnplacedTrainee.trainee_id == tid),
        "placements": placements,
        # Coordinators' notes on their record; who wrote each is the staff's data.
        "notes": rows(TraineeNote, TraineeNote.trainee_id == tid, skip=("author_id",)),
        "api_tokens": rows(ApiToken, ApiToken.user_id == actor.id, skip=("token_hash",)),
        "activity": rows(AuditEvent, AuditEvent.actor_id == actor.id),
        "about_you": rows(
            AuditEvent,
            about,
            or_(col(AuditEvent.actor_id).is_(None), col(AuditEvent.actor_id) != actor.id),
            skip=("actor_id", "ip"),
        ),
    }


@dataclass(frozen=True)
class ErasurePreview:
    """What erasing a trainee would remove and keep, or why there is nothing to do."""

    trainee: Trainee
    removed: list[str]
    kept: list[str]
    problem: str | None


def erasure_preview(*, session: Session, actor: User, trainee_id: int) -> ErasurePreview:
    trainee = get_trainee(session=session, actor=actor, trainee_id=trainee_id)
    problem = None
    if trainee.erased_at is not None:
        problem = (
            "This trainee's personal data was already erased on "
            f"{trainee.erased_at.strftime('%Y-%m-%d')}."
        )
    return ErasurePreview(
        trainee=trainee,
        removed=[text for _, text in ERASURE_REMOVED],
        kept=[text for _, text in ERASURE_KEPT],
        problem=problem,
    )


def erase_trainee(*, session: Session, actor: User, trainee_id: int) -> Trainee:
    """Remove a trainee's personal fields and their login; the match history (preferences,
    proposals, placements) stays, attached to the anonymised record.

    Their name, email and postcode are also scrubbed from every free text and JSON value
    that mentions them (`scrub_mentions`), the values of the audit events about their
    profile are blanked, and stored run instances are rewritten without them (see
    `runs.stored`). The rounds they took part in are locked first, so a run storing its
    instance at the same time either finishes before the erasure (and is rewritten by it)
    or waits for it (and leaves the trainee out)."""
    trainee = get_trainee(session=session, actor=actor, trainee_id=trainee_id)
    if trainee.erased_at is not None:
        return trainee
    assert trainee.id is not None
    tid = trainee.id
    for round_id in _rounds_of(session, tid):
        lock_round_for_instances(session, round_id, exclusive=True)
    trainee = session.exec(select(Trainee).where(Trainee.id == tid).with_for_update()).one()
    session.refresh(trainee)
    if trainee.erased_at is not None:
        return trainee
    user_id = trainee.user_id
    if user_id is not None:
        # Before `forget_actor` nulls their id anywhere: a transaction of theirs that has
        # written it holds FOR KEY SHARE on this row (`models.actor_guard`), so this waits
        # for its commit and the nulling then sees its rows; one that has not yet checked
        # waits for this erasure and then finds no account.
        session.execute(select(User.id).where(User.id == user_id).with_for_update())
    account = session.get(User, user_id) if user_id is not None else None
    mentions = Mentions.of(
        names=[trainee.name, account.name if account else None],
        emails=[trainee.email, account.email if account else None],
        postcodes=[trainee.postcode],
    )
    erased_fields = [
        name
        for name, value in snapshot(trainee).items()
        if name in PERSONAL_FIELDS and value not in (None, "", [], False)
    ]
    trainee.user_id = None
    trainee.name = ERASED_NAME
    trainee.email = None
    trainee.provider = ""
    trainee.skills = []
    trainee.postcode = None
    trainee.latitude = None
    trainee.longitude = None
    trainee.max_travel_km = None
    trainee.available_from = None
    trainee.available_to = None
    vetting.erase_dbs(session, trainee)
    trainee.needs = ""
    trainee.share_needs = False
    trainee.erased_at = utcnow()
    trainee.updated_at = trainee.erased_at
    session.flush()
    # A declined offer's reason is the trainee's own words.
    session.execute(
        update(Placement).where(col(Placement.trainee_id) == trainee.id).values(decline_reason=None)
    )
    rewritten = scrub_stored_instances(session, tid)
    if user_id is not None:
        # The account (email, name, password) goes; audit rows keep an empty actor and
        # lose the address they were made from.
        forget_actor(session, user_id)
        session.execute(delete(User).where(col(User.id) == user_id))
    _blank_profile_history(session, tid)
    notes = len(session.exec(select(TraineeNote.id).where(TraineeNote.trainee_id == tid)).all())
    session.execute(delete(TraineeNote).where(col(TraineeNote.trainee_id) == tid))
    scrubbed = scrub_mentions(session, mentions)
    session.expire_all()
    audit(
        session,
        actor=actor,
        action="trainee.erase",
        object_type="trainee",
        object_id=tid,
        trainee_id=tid,
        fields=erased_fields,
        rows_scrubbed=scrubbed,
        notes_removed=notes,
        runs_rewritten={str(k): v for k, v in rewritten.items()},
    )
    session.commit()
    erased = session.get(Trainee, tid)
    assert erased is not None
    return erased


# What erasure removes from the profile; blanked in the audit events about the profile.
PERSONAL_FIELDS = frozenset(
    {
        "name",
        "email",
        "provider",
        "skills",
        "postcode",
        "latitude",
        "longitude",
        "max_travel_km",
        "available_from",
        "available_to",
        "dbs_cleared",
        "needs",
        "level",
        "user_id",
    }
)
ERASED_VALUE = "[erased]"
# Columns never scrubbed: other people's identities (another account or trainee may share
# a name), places (an organisation's or a slot's postcode is an address, not a person's),
# and hashes.
_SKIP_TABLES = frozenset({"users", "trainees", "alembic_version"})
_SKIP_COLUMNS = frozenset({("organisations", "name")})


def forget_actor(session: Session, user_id: int) -> None:
    """Before deleting account `user_id`: null it wherever it is recorded as who acted
    (audit events, proposals decided, placements approved), as ON DELETE SET NULL did
    before those columns lost their foreign keys (see models.base._actor); its audit
    events also lose the IP address they were made from. Every path that deletes a user
    calls this first, holding the user's row FOR UPDATE (see `models.actor_guard`)."""
    session.execute(
        update(AuditEvent)
        .where(col(AuditEvent.actor_id) == user_id)
        .values(actor_id=None, ip=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Proposal)
        .where(col(Proposal.decided_by) == user_id)
        .values(decided_by=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Placement)
        .where(col(Placement.approved_by) == user_id)
        .values(approved_by=None)
        .execution_options(synchronize_session=False)
    )


def _rounds_of(session: Session, trainee_id: int) -> list[int]:
    joined = select(RoundTrainee.round_id).where(RoundTrainee.trainee_id == trainee_id)
    placed = select(Placement.round_id).where(Placement.trainee_id == trainee_id)
    ids = set(session.exec(joined).all()) | set(session.exec(placed).all())
    return sorted(ids)


def _blank_profile_history(session: Session, trainee_id: int) -> None:
    """The before/after values of changes to the trainee's profile go; who changed which
    field, and when, stays."""
    about = or_(
        col(AuditEvent.trainee_id) == trainee_id,
        and_(
            col(AuditEvent.object_type) == "trainee",
            col(AuditEvent.object_id) == str(trainee_id),
        ),
    )
    for event in session.exec(select(AuditEvent).where(about)):
        found = event.detail.get("changes")
        if not isinstance(found, dict):
            continue
        blanked = {
            name: (
                {side: (None if v is None else ERASED_VALUE) for side, v in values.items()}
                if name in PERSONAL_FIELDS and isinstance(values, dict)
                else values
            )
            for name, values in found.items()
        }
        if blanked != found:
            event.detail = {**event.detail, "changes": blanked}
    session.flush()


@dataclass(frozen=True)
class Mentions:
    """How an erased trainee may be mentioned in free text: patterns for Python, and
    substrings (lower case) for a database pre-filter."""

    patterns: tuple[re.Pattern[str], ...]
    substrings: tuple[str, ...]
    compact: tuple[str, ...]  # postcodes without spaces, matched against compacted text

    @classmethod
    def of(
        cls,
        *,
        names: Iterable[str | None],
        emails: Iterable[str | None],
        postcodes: Iterable[str | None],
    ) -> Mentions:
        patterns: list[re.Pattern[str]] = []
        substrings: set[str] = set()
        compact: set[str] = set()
        for name in {n.strip() for n in names if n and n.strip() and n != ERASED_NAME}:
            words = name.split()
            patterns.append(
                re.compile(
                    r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)", re.IGNORECASE
                )
            )
            substrings.add(" ".join(words).lower())
        for email in {e.strip() for e in emails if e and e.strip()}:
            patterns.append(re.compile(re.escape(email), re.IGNORECASE))
            substrings.add(email.lower())
        for postcode in {p for p in postcodes if p and p.strip()}:
            squeezed = re.sub(r"\s+", "", postcode).lower()
            patterns.append(
                re.compile(
                    r"(?<![a-z0-9])" + r"\s*".join(map(re.escape, squeezed)) + r"(?![a-z0-9])",
                    re.IGNORECASE,
                )
            )
            compact.add(squeezed)
        # JSON text on Postgres keeps non-ASCII characters as \u escapes.
        substrings |= {json.dumps(s)[1:-1].lower() for s in substrings}
        return cls(tuple(patterns), tuple(sorted(substrings)), tuple(sorted(compact)))

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for pattern in self.patterns:
                value = pattern.sub(ERASED_VALUE, value)
            return value
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        return value


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def scrub_mentions(session: Session, mentions: Mentions) -> int:
    """Replace every mention in every text and JSON column of every table (but
    `_SKIP_TABLES`, `_SKIP_COLUMNS`, postcodes of places and hashes) with "[erased]"; the
    number of rows changed. A database pre-filter finds candidate rows; Python decides."""
    if not mentions.patterns:
        return 0
    changed = 0
    for table in SQLModel.metadata.sorted_tables:
        if table.name in _SKIP_TABLES:
            continue
        keys = list(table.primary_key.columns)
        for column in table.columns:
            # SQLModel's AutoString is a TypeDecorator over String: look through it.
            kind = getattr(column.type, "impl_instance", column.type)
            is_json = isinstance(kind, sa.JSON)
            if not (is_json or isinstance(kind, sa.String)) or column.primary_key:
                continue
            if (
                (table.name, column.name) in _SKIP_COLUMNS
                or column.name == "postcode"
                or column.name.endswith("_hash")
            ):
                continue
            lowered = func.lower(sa.cast(column, sa.Text) if is_json else column)
            found = [lowered.like(_like(s), escape="\\") for s in mentions.substrings]
            found += [
                func.replace(lowered, " ", "").like(_like(c), escape="\\") for c in mentions.compact
            ]
            rows = session.execute(sa.select(*keys, column).where(or_(*found))).all()
            for row in rows:
                value = row[-1]
                scrubbed = mentions.scrub(value)
                if scrubbed == value:
                    continue
                session.execute(
                    sa.update(table)
                    .where(*(key == row[i] for i, key in enumerate(keys)))
                    .values({column.name: scrubbed})
                )
                changed += 1
    return changed
