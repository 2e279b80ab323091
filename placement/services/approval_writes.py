"""Writing the decisions of "approve all" (`approvals.approve_all`) set-wise.

`approve_all` decides, under the round's lock, which open proposals of a run fit; this
module writes those decisions: the seats, a live placement per approval (an offer at once
on a published round), the decisions, the trainees' other open proposals superseded and one
`proposal.approve` audit event per approval naming its placement. On Postgres that is four
statements over arrays whatever the run's size; elsewhere bulk statements in chunks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import bindparam, text, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from placement.models import (
    AuditEvent,
    MatchRun,
    Placement,
    Proposal,
    Round,
    Slot,
    User,
    note_actors,
    utcnow,
)
from placement.services.common import bulk_insert, chunks
from placement.services.offers import offer_values, tell_offer_made


def write_approvals(
    session: Session,
    actor: User,
    run: MatchRun,
    rnd: Round,
    approved: list[tuple[int, int, int]],
) -> None:
    """Write approvals `(proposal id, trainee id, slot id)` found to fit; no commit."""
    if session.connection().dialect.name == "postgresql":
        _write_approvals_pg(session, actor, run, rnd, approved)
    else:
        _write_approvals(session, actor, run, rnd, approved)


def _write_approvals(
    session: Session,
    actor: User,
    run: MatchRun,
    rnd: Round,
    approved: list[tuple[int, int, int]],
) -> None:
    """Seats, placements, proposal decisions, superseded proposals and one audit event per
    approval, for proposals `approve_all` found to fit; bulk statements, no commit."""
    now = utcnow()
    offer = offer_values(rnd, now)
    taken = Counter(slot_id for _, _, slot_id in approved)
    slots = Slot.__table__  # type: ignore[attr-defined]
    # `CHECK (filled <= capacity)` still guards the counter.
    note_actors(session, (actor.id,))  # decided_by on the proposals (UPDATE below)
    session.execute(
        update(slots)
        .where(slots.c.id == bindparam("slot_id"))
        .values(filled=slots.c.filled + bindparam("taken")),
        [{"slot_id": slot_id, "taken": n} for slot_id, n in taken.items()],
    )
    bulk_insert(
        session,
        Placement,
        [
            {
                "round_id": rnd.id,
                "trainee_id": trainee_id,
                "slot_id": slot_id,
                "proposal_id": proposal_id,
                "status": "live",
                "approved_by": actor.id,
                "created_at": now,
                "withdrawn_at": None,
                **offer,
            }
            for proposal_id, trainee_id, slot_id in approved
        ],
    )
    # Under the round lock, the round's placements made at `now` are these.
    made = session.execute(
        sa_select(col(Placement.proposal_id), col(Placement.id)).where(
            col(Placement.round_id) == rnd.id, col(Placement.created_at) == now
        )
    )
    placement_of = {proposal_id: placement_id for proposal_id, placement_id in made}
    runs_of_round = sa_select(col(MatchRun.id)).where(col(MatchRun.round_id) == rnd.id)
    for part in chunks(approved):
        session.execute(
            update(Proposal)
            .where(col(Proposal.id).in_([proposal_id for proposal_id, _, _ in part]))
            .values(status="approved", decided_by=actor.id, decided_at=now)
            .execution_options(synchronize_session=False)
        )
        # The trainees' open proposals from other runs of the round are moot now.
        session.execute(
            update(Proposal)
            .where(
                col(Proposal.trainee_id).in_([trainee_id for _, trainee_id, _ in part]),
                col(Proposal.status) == "proposed",
                col(Proposal.run_id).in_(runs_of_round),
            )
            .values(status="superseded", decided_at=now)
            .execution_options(synchronize_session=False)
        )
    bulk_insert(
        session,
        AuditEvent,
        [
            {
                "at": now,
                "actor_id": actor.id,
                "action": "proposal.approve",
                "object_type": "proposal",
                "object_id": str(proposal_id),
                "detail": {
                    "placement_id": placement_of[proposal_id],
                    "slot_id": slot_id,
                    "run_id": run.id,
                    "via": "approve_all",
                    "changes": {
                        "status": {"before": "proposed", "after": "approved"},
                        "decided_by": {"before": None, "after": actor.id},
                        "decided_at": {"before": None, "after": now.isoformat()},
                    },
                },
                "ip": None,
                "round_id": rnd.id,
                "trainee_id": trainee_id,
            }
            for proposal_id, trainee_id, slot_id in approved
        ],
    )
    session.expire_all()
    if offer["offer_status"] is not None:
        for placement_id in placement_of.values():
            placement = session.get(Placement, placement_id)
            assert placement is not None
            tell_offer_made(session, placement)


# Postgres writes the decisions of `approve_all` in four statements whatever their number:
# the seats, then the placements with their audit events (one statement: each event is made
# from its placement's RETURNING row, in the placements' id order, which is the approvals'),
# the decisions, and the trainees' other open proposals. The decisions are HOT updates (see
# `Proposal.status`). The statements are planned at a few milliseconds: JIT compiling them
# (the default for plans this size) costs more than a second and saves nothing, and the
# sorts fit in memory with a larger `work_mem`, both for this transaction only.
_PLAN_SETTINGS = "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"
_TAKE_SEATS = """
UPDATE slots SET filled = slots.filled + taken.n
FROM unnest(CAST(:slot_ids AS integer[]), CAST(:counts AS integer[])) AS taken(id, n)
WHERE slots.id = taken.id
"""
_PLACE_AND_AUDIT = """
WITH made AS (
    INSERT INTO placements (
        round_id, trainee_id, slot_id, proposal_id, status, approved_by, created_at,
        withdrawn_at, offer_status, offered_at, offer_expires_at
    )
    SELECT CAST(:round_id AS integer), d.trainee_id, d.slot_id, d.proposal_id, 'live',
        CAST(:actor_id AS integer), CAST(:now AS timestamptz), NULL,
        CAST(:offer_status AS varchar), CAST(:offered_at AS timestamptz),
        CAST(:offer_expires_at AS timestamptz)
    FROM unnest(
        CAST(:proposal_ids AS integer[]),
        CAST(:trainee_ids AS integer[]),
        CAST(:slot_ids AS integer[])
    ) WITH ORDINALITY AS d(proposal_id, trainee_id, slot_id, n)
    ORDER BY d.n
    RETURNING id, proposal_id, trainee_id, slot_id
)
INSERT INTO audit_events (
    at, actor_id, action, object_type, object_id, detail, ip, round_id, trainee_id
)
SELECT CAST(:now AS timestamptz), CAST(:actor_id AS integer), 'proposal.approve', 'proposal',
    CAST(made.proposal_id AS text),
    json_build_object(
        'placement_id', made.id,
        'slot_id', made.slot_id,
        'run_id', CAST(:run_id AS integer),
        'via', 'approve_all',
        'changes', json_build_object(
            'status', json_build_object('before', 'proposed', 'after', 'approved'),
            'decided_by', json_build_object('before', NULL, 'after', CAST(:actor_id AS integer)),
            'decided_at', json_build_object('before', NULL, 'after', CAST(:now_text AS text))
        )
    ),
    NULL, CAST(:round_id AS integer), made.trainee_id
FROM made
ORDER BY made.id
"""
_DECIDE = """
UPDATE proposals SET status = 'approved', decided_by = :actor_id, decided_at = :now
FROM unnest(CAST(:proposal_ids AS integer[])) AS decided(id)
WHERE proposals.id = decided.id
"""
# The trainees' open proposals from other runs of the round are moot now.
_SUPERSEDE = """
UPDATE proposals SET status = 'superseded', decided_at = :now
FROM unnest(CAST(:trainee_ids AS integer[])) AS placed(id)
WHERE proposals.trainee_id = placed.id AND proposals.status = 'proposed'
    AND proposals.run_id IN (SELECT id FROM match_runs WHERE round_id = :round_id)
"""


def _int_array(values: Iterable[int]) -> str:
    """Postgres's text form of an integer array: psycopg adapts a list of 100,000 ints
    element by element in Python, a second or more; one string is a few milliseconds."""
    return "{" + ",".join(map(str, values)) + "}"


def _write_approvals_pg(
    session: Session,
    actor: User,
    run: MatchRun,
    rnd: Round,
    approved: list[tuple[int, int, int]],
) -> None:
    """`_write_approvals` for Postgres: the same rows, set-wise from arrays, no commit."""
    now = utcnow()
    offer = offer_values(rnd, now)
    taken = Counter(slot_id for _, _, slot_id in approved)
    proposal_ids = _int_array(proposal_id for proposal_id, _, _ in approved)
    note_actors(session, (actor.id,))  # approved_by, decided_by, actor_id below
    trainee_ids = _int_array(trainee_id for _, trainee_id, _ in approved)
    session.execute(text(_PLAN_SETTINGS))
    # `CHECK (filled <= capacity)` still guards the counter.
    session.execute(
        text(_TAKE_SEATS), {"slot_ids": _int_array(taken), "counts": _int_array(taken.values())}
    )
    # The placements' ids are wanted only to tell the trainees of their offers.
    place = _PLACE_AND_AUDIT
    if offer["offer_status"] is not None:
        place += "RETURNING CAST(detail ->> 'placement_id' AS integer)\n"
    made = session.execute(
        text(place),
        {
            "proposal_ids": proposal_ids,
            "trainee_ids": trainee_ids,
            "slot_ids": _int_array(slot_id for _, _, slot_id in approved),
            "round_id": rnd.id,
            "run_id": run.id,
            "actor_id": actor.id,
            "now": now,
            "now_text": now.isoformat(),
            **offer,
        },
    )
    placement_ids = made.scalars().all() if offer["offer_status"] is not None else []
    session.execute(text(_DECIDE), {"proposal_ids": proposal_ids, "actor_id": actor.id, "now": now})
    session.execute(text(_SUPERSEDE), {"trainee_ids": trainee_ids, "now": now, "round_id": rnd.id})
    session.expire_all()
    if offer["offer_status"] is not None:
        for placement_id in placement_ids:
            placement = session.get(Placement, placement_id)
            assert placement is not None
            tell_offer_made(session, placement)
