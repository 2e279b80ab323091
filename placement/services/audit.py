"""The audit log: who changed what, when, from where, and to whom. Coordinators read it.

What an event holds
    `actor_id` (who; empty for the system and for anonymous callers), `at` (UTC), `ip`
    (from where), `action` (`noun.verb`), `object_type`/`object_id` (what), `round_id` and
    `trainee_id` (the round and the trainee it is about, for the filters) and `detail`. A
    change of personal or decision data keeps `detail["changes"]`:
    `{field: {"before": ..., "after": ...}}`, made by `common.changes` from a snapshot taken
    before the change. Secrets (password and token hashes, MFA secrets, recovery codes)
    never appear; a trainee's health `needs` and DBS certificate numbers are recorded as
    changed and shown as "(hidden)". Erasure scrubs the erased trainee's name, email and
    postcode from every event (see `privacy`).
Refused requests
    A 403 (page or API) is recorded as `request.deny`, at most one event per caller
    (account, or IP address when anonymous) and path per `DENY_WINDOW`: repeats within the
    window raise that event's `count` instead of adding rows, so they cannot flood the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, exists, func, or_
from sqlmodel import Session, col, select

from placement.models import AuditEvent, Trainee, User, utcnow
from placement.services.common import Page, audit, paginate, require_role

DENY_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class AuditFilters:
    """What the log is narrowed to; every field optional. `person` matches the name or
    email of the actor, of the trainee the event is about, or of the account it is about
    (case-insensitive, part of either); `until` includes its whole day."""

    action: str | None = None
    actor_id: int | None = None
    round_id: int | None = None
    trainee_id: int | None = None
    person: str | None = None
    since: date | None = None
    until: date | None = None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min).replace(tzinfo=utcnow().tzinfo)


def _like(value: str) -> str:
    escaped = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _person_matches(person: str) -> Any:
    pattern = _like(person.strip())

    def named(name_col: Any, email_col: Any) -> Any:
        return or_(
            func.lower(name_col).like(pattern, escape="\\"),
            func.lower(func.coalesce(email_col, "")).like(pattern, escape="\\"),
        )

    users = select(User.id).where(named(col(User.name), col(User.email)))
    trainees = select(Trainee.id).where(named(col(Trainee.name), col(Trainee.email)))
    about_account = and_(
        col(AuditEvent.object_type) == "user",
        exists(
            select(User.id).where(
                named(col(User.name), col(User.email)),
                cast(col(User.id), String(50)) == col(AuditEvent.object_id),
            )
        ),
    )
    return or_(
        col(AuditEvent.actor_id).in_(users),
        col(AuditEvent.trainee_id).in_(trainees),
        about_account,
    )


def list_audit(
    *,
    session: Session,
    actor: User,
    action: str | None = None,
    actor_id: int | None = None,
    filters: AuditFilters | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[AuditEvent]:
    """Newest first, narrowed by `filters` (and the older `action`/`actor_id` arguments)."""
    require_role(actor, "coordinator")
    f = filters or AuditFilters()
    action = action or f.action
    actor_id = actor_id if actor_id is not None else f.actor_id
    statement = select(AuditEvent)
    if action:
        # A family by its noun ("login", "proposal"), or one action exactly.
        if "." in action:
            statement = statement.where(AuditEvent.action == action)
        else:
            statement = statement.where(col(AuditEvent.action).startswith(f"{action}."))
    if actor_id is not None:
        statement = statement.where(AuditEvent.actor_id == actor_id)
    if f.round_id is not None:
        statement = statement.where(AuditEvent.round_id == f.round_id)
    if f.trainee_id is not None:
        statement = statement.where(AuditEvent.trainee_id == f.trainee_id)
    if f.person and f.person.strip():
        statement = statement.where(_person_matches(f.person))
    if f.since is not None:
        statement = statement.where(col(AuditEvent.at) >= _day_start(f.since))
    if f.until is not None:
        statement = statement.where(col(AuditEvent.at) < _day_start(f.until + timedelta(days=1)))
    statement = statement.order_by(col(AuditEvent.id).desc())
    return paginate(session, statement, page, per_page)


def record_denied(
    *,
    session: Session,
    actor: User | None,
    method: str,
    path: str,
    status: int,
    message: str,
    ip: str | None = None,
) -> None:
    """Record a refused request in its own transaction: whatever the request did is
    rolled back first, the audit row is committed. Repeats by the same caller at the same
    path within `DENY_WINDOW` count on the first event instead of adding rows."""
    session.rollback()
    now = utcnow()
    object_id = f"{method} {path}"[:50]
    statement = (
        select(AuditEvent)
        .where(
            AuditEvent.action == "request.deny",
            AuditEvent.object_id == object_id,
            col(AuditEvent.at) >= now - DENY_WINDOW,
        )
        .order_by(col(AuditEvent.id).desc())
    )
    if actor is not None:
        statement = statement.where(AuditEvent.actor_id == actor.id)
    else:
        statement = statement.where(
            col(AuditEvent.actor_id).is_(None),
            (AuditEvent.ip == ip) if ip is not None else col(AuditEvent.ip).is_(None),
        )
    for event in session.exec(statement.limit(5)):
        if event.detail.get("path") == path[:300]:
            detail = dict(event.detail)
            detail["count"] = int(detail.get("count", 1)) + 1
            detail["last_at"] = now.isoformat()
            event.detail = detail
            session.commit()
            return
    audit(
        session,
        actor=actor,
        action="request.deny",
        object_type="request",
        object_id=object_id,
        ip=ip,
        status=status,
        method=method,
        path=path[:300],
        message=message[:300],
        count=1,
    )
    session.commit()


# --- the audit page: who did what to whom, in words ----------------------------------

# Sentences by action; {who} is the actor, {whom} the trainee, {round} the round and
# {thing} what the object is (a slot's title, an organisation's name...).
SENTENCES: dict[str, str] = {
    "login.success": "{who} signed in",
    "login.fail": "Failed sign-in to {account}",
    "session.logout": "{who} signed out",
    "account.register": "{who} registered",
    "trainee.create": "{who} added the trainee {whom}",
    "trainee.update": "{who} changed the profile of {whom}",
    "trainee.erase": "{who} erased a trainee's personal data (record {object_id})",
    "trainee.import": "{who} imported trainees into {round}",
    "slot.import": "{who} imported slots into {round}",
    "preference.set": "{who} changed the ranked choices of {whom} in {round}",
    "ranking.set": "{who} ranked the applicants of {thing}",
    "slot.create": "{who} added the slot {thing}",
    "slot.update": "{who} changed the slot {thing}",
    "slot.delete": "{who} deleted the slot {thing}",
    "organisation.create": "{who} added the organisation {thing}",
    "organisation.update": "{who} changed the organisation {thing}",
    "organisation.verify": "{who} verified the organisation {thing}",
    "round.create": "{who} created {round}",
    "round.open": "{who} opened {round}",
    "round.close": "{who} closed {round}",
    "round.publish": "{who} published {round}",
    "run.start": "{who} started a match run of {round}",
    "run.approve_all": "{who} approved every open proposal that fits in run {object_id}",
    "proposal.approve": "{who} approved the proposal placing {whom} at {thing}",
    "proposal.reject": "{who} rejected the proposal placing {whom} at {thing}",
    "placement.withdraw": "{who} withdrew the placement of {whom} at {thing}",
    "request.deny": "{who} was refused {request}",
    "retention.purge": "Old records past their retention were removed",
}
ACTION_FAMILIES = (
    ("login", "Sign-ins"),
    ("session", "Sign-outs"),
    ("account", "Accounts"),
    ("trainee", "Trainee profiles"),
    ("preference", "Trainees' choices"),
    ("ranking", "Employers' rankings"),
    ("organisation", "Organisations"),
    ("slot", "Slots"),
    ("round", "Rounds"),
    ("run", "Match runs"),
    ("proposal", "Proposals"),
    ("placement", "Placements"),
    ("request", "Refused requests"),
    ("retention", "Retention"),
)
FIELD_LABELS = {
    "max_travel_km": "Maximum travel (km)",
    "dbs_cleared": "DBS cleared",
    "available_from": "Available from",
    "available_to": "Available to",
    "slot_ids": "Ranked slots",
    "trainee_ids": "Ranked applicants",
    "decided_by": "Decided by",
    "decided_at": "Decided at",
    "min_level": "Minimum level",
    "requires_dbs": "Needs DBS",
    "required_skills": "Required skills",
    "withdrawn_at": "Withdrawn at",
}


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    when: str  # "2 Dec 2026, 08:14"
    who: str
    sentence: str
    action: str
    ip: str | None
    changes: list[Change]
    notes: list[str]


@dataclass(frozen=True)
class AuditPage:
    page: Page[AuditEvent]
    lines: list[AuditLine]
    filters: AuditFilters
    rounds: list[tuple[int, str]]
    families: tuple[tuple[str, str], ...] = ACTION_FAMILIES


def uk_time(at: datetime) -> str:
    return f"{at.day} {at.strftime('%b %Y, %H:%M')}"


def _shown(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and "T" in value:
        try:
            return uk_time(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, str) and len(value) == 10 and value[4] == "-":
        try:
            day = date.fromisoformat(value)
            return f"{day.day} {day.strftime('%b %Y')}"
        except ValueError:
            return value
    return str(value)


def _label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def _names(session: Session, model: Any, label: Any, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(model.id, label).where(col(model.id).in_(sorted(ids)))).all()
    return {int(i): str(n) for i, n in rows}


def audit_page(
    *, session: Session, actor: User, filters: AuditFilters, page: int = 1, per_page: int = 100
) -> AuditPage:
    """The audit log as sentences, with names rather than ids (coordinators)."""
    from placement.models import Organisation, Round, Slot

    found = list_audit(session=session, actor=actor, filters=filters, page=page, per_page=per_page)
    events = found.items
    users = _names(
        session,
        User,
        User.name,
        {e.actor_id for e in events if e.actor_id is not None}
        | {int(e.object_id) for e in events if e.object_type == "user" and e.object_id.isdigit()},
    )
    trainees = _names(
        session, Trainee, Trainee.name, {e.trainee_id for e in events if e.trainee_id is not None}
    )
    rounds = dict(
        session.execute(select(Round.id, Round.name).order_by(col(Round.id).desc())).all()
    )

    def object_ids(kind: str) -> set[int]:
        return {int(e.object_id) for e in events if e.object_type == kind and e.object_id.isdigit()}

    slot_ids = object_ids("slot") | {
        int(e.detail["slot_id"]) for e in events if isinstance(e.detail.get("slot_id"), int)
    }
    slots = _names(session, Slot, Slot.title, slot_ids)
    organisations = _names(session, Organisation, Organisation.name, object_ids("organisation"))

    lines = []
    for e in events:
        who = users.get(e.actor_id, "a deleted account") if e.actor_id is not None else None
        if who is None:
            who = "The system" if e.ip is None else "Someone not signed in"
        thing = ""
        if e.object_type == "slot" or isinstance(e.detail.get("slot_id"), int):
            slot_id = int(e.object_id) if e.object_type == "slot" else e.detail["slot_id"]
            thing = f"“{slots.get(slot_id, e.detail.get('title', f'slot {slot_id}'))}”"
        elif e.object_type == "organisation" and e.object_id.isdigit():
            thing = f"“{organisations.get(int(e.object_id), 'an organisation since removed')}”"
        account = (
            users.get(int(e.object_id), "an account")
            if e.object_type == "user" and e.object_id.isdigit()
            else ("an unknown email address" if not e.object_id else "an account")
        )
        values = {
            "who": who,
            "whom": trainees.get(e.trainee_id, "a trainee") if e.trainee_id else "a trainee",
            "round": (
                f"round “{rounds[e.round_id]}”"
                if e.round_id in rounds
                else "a round"
                if e.round_id is None
                else "a deleted round"
            ),
            "thing": thing or "(removed)",
            "object_id": e.object_id,
            "account": account,
            "request": f"{e.detail.get('method', '')} {e.detail.get('path', '')}".strip(),
        }
        sentence = SENTENCES.get(e.action, "{who}: " + e.action).format(**values)
        notes = []
        if e.action == "request.deny" and int(e.detail.get("count", 1)) > 1:
            notes.append(f"{e.detail['count']} times within a minute")
        for key in ("created", "updated", "approved", "conflicts", "run_instances", "tokens"):
            if isinstance(e.detail.get(key), int):
                notes.append(f"{_label(key)}: {e.detail[key]}")
        if e.detail.get("message") and e.action == "request.deny":
            notes.append(str(e.detail["message"]))
        found_changes = e.detail.get("changes") or {}
        changes = [
            Change(_label(name), _shown(v.get("before")), _shown(v.get("after")))
            for name, v in found_changes.items()
            if isinstance(v, dict)
        ]
        lines.append(
            AuditLine(
                at=e.at,
                when=uk_time(e.at),
                who=who,
                sentence=sentence,
                action=e.action,
                ip=e.ip,
                changes=changes,
                notes=notes,
            )
        )
    return AuditPage(
        page=found, lines=lines, filters=filters, rounds=[(int(i), n) for i, n in rounds.items()]
    )
