"""Actions a coordinator applies to many rows at once: invite trainees, withdraw them
from a round, verify hosts. Each applies to all the ids in one transaction, audits each
row it changes, and says how many it did and which it left, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlmodel import Session, col, func, select

from placement.errors import Conflict, InvalidInput, WrongState
from placement.models import (
    Organisation,
    Placement,
    PlacementStatus,
    Preference,
    Round,
    RoundStatus,
    RoundTrainee,
    Trainee,
    User,
)
from placement.services import trainees, vetting
from placement.services.accounts import invitation_refusal, send_invitation
from placement.services.common import audit, chunks, get_round, require_role

# One page of a list at most; a form cannot tick more.
MAX_IDS = 500
# "Select all that match" takes the list's whole search, up to this many rows (above it the
# pages would rather run in the background: narrow the search).
MAX_MATCHING = 2000


@dataclass(frozen=True)
class BulkResult:
    """How many rows the action changed, and those it left with the reason, by name."""

    done: int
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _checked_ids(ids: Sequence[int], what: str) -> list[int]:
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise InvalidInput(f"Select at least one {what}.", errors={"ids": [f"select a {what}"]})
    if len(unique) > MAX_IDS:
        raise InvalidInput(
            f"Select at most {MAX_IDS} {what}s at a time.",
            errors={"ids": [f"select at most {MAX_IDS}"]},
        )
    return unique


def _selected(
    session: Session, round_id: int, trainee_ids: Sequence[int], all_matching: bool, q: str | None
) -> list[int]:
    """The ticked ids, or with `all_matching` every trainee of the round whose name or
    email contains `q` (the trainees list's own search), in id order."""
    if not all_matching:
        return _checked_ids(trainee_ids, "trainee")
    statement = trainees.matching(select(Trainee.id), round_id, q or None)
    ids = [int(i) for i in session.exec(statement.limit(MAX_MATCHING + 1)).all()]
    if not ids:
        raise InvalidInput(
            "No trainee of the round matches the search.", errors={"ids": ["no trainee matches"]}
        )
    if len(ids) > MAX_MATCHING:
        raise InvalidInput(
            f"More than {MAX_MATCHING:,} trainees match: act on at most {MAX_MATCHING:,} at a "
            "time. Narrow the search (by name or email) and try again.",
            errors={"ids": [f"select at most {MAX_MATCHING:,}"]},
        )
    return ids


def _round_trainees(session: Session, round_id: int, ids: list[int]) -> dict[int, Trainee]:
    """The trainees among `ids` who take part in the round, by id."""
    found: dict[int, Trainee] = {}
    for chunk in chunks(ids):
        rows = session.exec(
            select(Trainee)
            .join(RoundTrainee, col(RoundTrainee.trainee_id) == Trainee.id)
            .where(RoundTrainee.round_id == round_id, col(Trainee.id).in_(chunk))
        ).all()
        found.update((t.id, t) for t in rows if t.id is not None)
    return found


def _names(session: Session, ids: list[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    for chunk in chunks(ids):
        rows = session.exec(select(Trainee.id, Trainee.name).where(col(Trainee.id).in_(chunk)))
        names.update((int(i), n) for i, n in rows.all() if i is not None)
    return names


# --- invitations -----------------------------------------------------------------------


def invite_trainees(
    *,
    session: Session,
    actor: User,
    round_id: int,
    trainee_ids: Sequence[int],
    ip: str | None = None,
    all_matching: bool = False,
    q: str | None = None,
) -> BulkResult:
    """Mail an invitation link to each chosen trainee of the round who has an email address
    and no login, and was not invited in the last hour (the rule of the round's
    `POST /rounds/{id}/invitations`, for chosen trainees). With `all_matching`, the chosen
    are all the round's trainees matching `q` (see `_selected`), not `trainee_ids`."""
    require_role(actor, "coordinator")
    rnd = get_round(session, round_id, actor=actor)
    ids = _selected(session, round_id, trainee_ids, all_matching, q)
    found = _round_trainees(session, round_id, ids)
    names = _names(session, ids)
    skipped: list[tuple[str, str]] = []
    done = 0
    for tid in ids:
        trainee = found.get(tid)
        name = names.get(tid, f"Trainee {tid}")
        refusal = "not in this round" if trainee is None else invitation_refusal(session, trainee)
        if refusal is not None:
            skipped.append((name, refusal))
            continue
        assert trainee is not None
        send_invitation(session, rnd, trainee)
        audit(
            session,
            actor=actor,
            action="trainee.invite",
            object_type="trainee",
            object_id=trainee.id,
            ip=ip,
            round_id=rnd.id,
            trainee_id=trainee.id,
        )
        done += 1
    session.commit()
    return BulkResult(done=done, skipped=skipped)


# --- withdrawing from a round ------------------------------------------------------------


@dataclass(frozen=True)
class WithdrawalPreview:
    """What withdrawing the chosen trainees from a round would do, in numbers."""

    round: Round
    selected: int
    withdrawn: list[str]  # names of those who would leave the round
    choices: int  # their ranked choices in the round, removed
    skipped: list[tuple[str, str]]
    problem: str | None


def _withdrawal(
    session: Session,
    actor: User,
    round_id: int,
    trainee_ids: Sequence[int],
    all_matching: bool,
    q: str | None,
) -> tuple[Round, list[Trainee], list[tuple[str, str]], str | None]:
    require_role(actor, "coordinator")
    rnd = get_round(session, round_id, actor=actor)
    ids = _selected(session, round_id, trainee_ids, all_matching, q)
    problem = None
    if rnd.status == RoundStatus.PUBLISHED:
        problem = "The round's results are published: trainees can no longer leave it."
    found = _round_trainees(session, round_id, ids)
    names = _names(session, ids)
    placed: set[int] = set()
    for chunk in chunks(ids):
        placed.update(
            session.exec(
                select(Placement.trainee_id).where(
                    Placement.round_id == round_id,
                    Placement.status == PlacementStatus.LIVE,
                    col(Placement.trainee_id).in_(chunk),
                )
            ).all()
        )
    leaving: list[Trainee] = []
    skipped: list[tuple[str, str]] = []
    for tid in ids:
        name = names.get(tid, f"Trainee {tid}")
        if tid not in found:
            skipped.append((name, "not in this round"))
        elif tid in placed:
            skipped.append((name, "has a placement in this round: withdraw the placement first"))
        else:
            leaving.append(found[tid])
    return rnd, leaving, skipped, problem


def _choices(session: Session, round_id: int, ids: list[int]) -> dict[int, int]:
    """Ranked choices in the round, by trainee."""
    counts: dict[int, int] = {}
    for chunk in chunks(ids):
        rows = session.exec(
            select(Preference.trainee_id, func.count())
            .where(Preference.round_id == round_id, col(Preference.trainee_id).in_(chunk))
            .group_by(col(Preference.trainee_id))
        ).all()
        counts.update((int(tid), int(n)) for tid, n in rows)
    return counts


def withdrawal_preview(
    *,
    session: Session,
    actor: User,
    round_id: int,
    trainee_ids: Sequence[int],
    all_matching: bool = False,
    q: str | None = None,
) -> WithdrawalPreview:
    rnd, leaving, skipped, problem = _withdrawal(
        session, actor, round_id, trainee_ids, all_matching, q
    )
    choices = _choices(session, round_id, [t.id for t in leaving if t.id is not None])
    return WithdrawalPreview(
        round=rnd,
        selected=len(leaving) + len(skipped),
        withdrawn=[t.name for t in leaving],
        choices=sum(choices.values()),
        skipped=skipped,
        problem=problem,
    )


def withdraw_from_round(
    *,
    session: Session,
    actor: User,
    round_id: int,
    trainee_ids: Sequence[int],
    all_matching: bool = False,
    q: str | None = None,
    expected: int | None = None,
) -> BulkResult:
    """Take the chosen trainees out of the round: they leave its list and their choices in
    it are removed, so later match runs leave them out. Trainees with a live placement in
    the round are left (withdraw the placement first); earlier runs keep their history.

    With `all_matching`, the chosen are all the round's trainees matching `q`; `expected`
    is how many the confirmation showed, and a different number now is refused (the list
    changed in between: confirm again)."""
    rnd, leaving, skipped, problem = _withdrawal(
        session, actor, round_id, trainee_ids, all_matching, q
    )
    if problem:
        raise WrongState(problem)
    selected = len(leaving) + len(skipped)
    if all_matching and expected is not None and selected != expected:
        raise WrongState(
            f"The trainees that match changed since you confirmed ({expected:,} then, "
            f"{selected:,} now). Nothing was withdrawn: check the list and try again."
        )
    ids = [t.id for t in leaving if t.id is not None]
    choices = _choices(session, rnd.id or round_id, ids)
    for chunk in chunks(ids):
        session.execute(
            delete(Preference).where(
                col(Preference.round_id) == rnd.id, col(Preference.trainee_id).in_(chunk)
            )
        )
        session.execute(
            delete(RoundTrainee).where(
                col(RoundTrainee.round_id) == rnd.id, col(RoundTrainee.trainee_id).in_(chunk)
            )
        )
    for trainee in leaving:
        removed = choices.get(trainee.id or 0, 0)
        audit(
            session,
            actor=actor,
            action="trainee.withdraw_from_round",
            object_type="trainee",
            object_id=trainee.id,
            round_id=rnd.id,
            trainee_id=trainee.id,
            choices_removed=int(removed),
        )
    session.commit()
    return BulkResult(done=len(leaving), skipped=skipped)


# --- verifying hosts ----------------------------------------------------------------------


def verify_hosts(
    *, session: Session, actor: User, organisation_ids: Sequence[int], seen: str = ""
) -> BulkResult:
    """Verify each chosen host that is not verified yet, through the vetting service (each
    verification records who, when and `seen`); hosts with an expired accreditation are
    left, with the reason."""
    require_role(actor, "coordinator")
    ids = _checked_ids(organisation_ids, "host")
    orgs = {
        o.id: o
        for o in session.exec(select(Organisation).where(col(Organisation.id).in_(ids))).all()
    }
    skipped: list[tuple[str, str]] = []
    done = 0
    for oid in ids:
        org = orgs.get(oid)
        if org is None:
            skipped.append((f"Host {oid}", "no such host"))
            continue
        if org.verified:
            skipped.append((org.name, "already verified"))
            continue
        try:
            vetting.verify(session, actor=actor, org=org, seen=seen)
        except Conflict as refused:
            skipped.append((org.name, refused.message))
            continue
        done += 1
    session.commit()
    return BulkResult(done=done, skipped=skipped)
