"""The instance file a run solved, stored on the run.

The attempt that loads the round stores the instance file it built on the run (gzip of
the canonical JSON, and the SHA-256 of that JSON) before it solves; claiming a run clears
what an earlier attempt stored. So the stored instance is always the one the current (or
last) attempt solved, and the one behind a succeeded run's proposals. Fanned-out component
tasks and the merge read that stored instance rather than the round, and explanations read
it rather than the round as it is now.

Erasure
    A stored instance never keeps an erased trainee. Erasure rewrites every stored instance
    that lists the trainee without them (`without_trainees`: their entry, locks, exclusions
    and places in employers' rankings go; a seat they held stays taken, as when a round is
    built without them) and stores the new SHA-256 with it; the erasure's audit event names
    the runs rewritten and their previous hashes. A published run's record therefore keeps
    its proposals, placements and everyone else's data, not the erased trainee's location,
    skills or dates. Erasure and the attempt that stores an instance exclude each other:
    both lock the round's row first (`lock_round_for_instances`), and the attempt leaves out
    any trainee erased by then, so an instance built before an erasure and stored after it
    does not bring the trainee back.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy import union, update
from sqlmodel import Session, col

from placement.errors import NotFound
from placement.models import (
    MatchRun,
    Placement,
    PlacementStatus,
    Round,
    RoundTrainee,
    Trainee,
    User,
)
from placement.services.common import require_role
from placement.services.instance_json import canonical_instance

# gzip level of stored instances: at 145,000 trainees level 1 turns 58 MB of JSON into 12 MB
# in 0.45 s; level 6 saves 3 MB more for 1.2 s more in the run's critical path.
INSTANCE_GZIP_LEVEL = 1


@dataclass(frozen=True)
class InstanceFile:
    """An instance file exactly as a run stored it: canonical JSON bytes and their SHA-256."""

    content: bytes
    sha256: str

    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.content)
        return loaded


def pack_instance(data: Mapping[str, Any]) -> tuple[bytes, str]:
    """What a run stores: the gzip of the canonical JSON (no timestamp in the header, so
    the bytes are reproducible too) and the hex SHA-256 of the uncompressed JSON."""
    return pack_content(canonical_instance(data))


def pack_content(content: bytes) -> tuple[bytes, str]:
    """:func:`pack_instance` of an instance file already written as canonical JSON
    (`instance_json.instance_file`)."""
    packed = gzip.compress(content, compresslevel=INSTANCE_GZIP_LEVEL, mtime=0)
    return packed, hashlib.sha256(content).hexdigest()


def unpack_instance(run_id: int, packed: bytes, sha256: str | None) -> InstanceFile:
    content = gzip.decompress(packed)
    digest = hashlib.sha256(content).hexdigest()
    if sha256 is not None and digest != sha256:
        # Not a user error: the stored bytes were damaged or written behind our back.
        raise RuntimeError(f"run {run_id}: the stored instance does not match its SHA-256")
    return InstanceFile(content=content, sha256=digest)


def stored_instance(*, session: Session, run_id: int) -> InstanceFile:
    """The instance file the run solved (or is solving), exactly as stored.

    No authorisation: for the CLI and other services; callers acting for a user use
    `run_instance_file`. NotFound for an unknown run and for a run with no stored instance
    (it has not loaded its round yet, or ran before runs kept their instances).
    """
    row = session.execute(
        sa_select(col(MatchRun.instance_gz), col(MatchRun.instance_sha256)).where(
            col(MatchRun.id) == run_id
        )
    ).first()
    if row is None:
        raise NotFound("No such run.")
    if row.instance_gz is None:
        raise NotFound(
            "No instance is stored for this run: it has not loaded its round yet, or it ran "
            "before runs kept their instances (export the round's instance instead)."
        )
    return unpack_instance(run_id, row.instance_gz, row.instance_sha256)


def run_instance_file(*, session: Session, actor: User | None, run_id: int) -> InstanceFile:
    """The run's stored instance file with its SHA-256; coordinators only."""
    require_role(actor, "coordinator")
    return stored_instance(session=session, run_id=run_id)


def run_instance(*, session: Session, actor: User | None, run_id: int) -> dict[str, Any]:
    """The `placement-instance/1` document the run solved; coordinators only."""
    return run_instance_file(session=session, actor=actor, run_id=run_id).data()


def without_trainees(data: Mapping[str, Any], trainee_ids: set[str]) -> dict[str, Any]:
    """The instance without these trainees (ids as in the file: strings): their entries,
    locks, exclusions and places in employers' rankings go. A seat one of them held (a
    lock) stays taken: the slot's capacity goes down by one, and a slot left with no seat
    goes too, as `instances.build` does for a trainee it leaves out."""
    gone = set(trainee_ids)
    held: dict[str, int] = {}
    for pair in data.get("locked", []):
        if pair["trainee_id"] in gone:
            held[pair["slot_id"]] = held.get(pair["slot_id"], 0) + 1
    slots = []
    for slot in data.get("slots", []):
        capacity = int(slot["capacity"]) - held.get(slot["id"], 0)
        if capacity <= 0:
            continue
        rankings = [t for t in slot.get("rankings", []) if t not in gone]
        slots.append({**slot, "capacity": capacity, "rankings": rankings})
    open_slots = {slot["id"] for slot in slots}
    trainees = [
        {**t, "preferences": [s for s in t.get("preferences", []) if s in open_slots]}
        for t in data.get("trainees", [])
        if t["id"] not in gone
    ]

    def kept(pairs: Any) -> list[Any]:
        return [p for p in pairs if p["trainee_id"] not in gone and p["slot_id"] in open_slots]

    return {
        **data,
        "trainees": trainees,
        "slots": slots,
        "locked": kept(data.get("locked", [])),
        "excluded": kept(data.get("excluded", [])),
    }


def lock_round_for_instances(session: Session, round_id: int, *, exclusive: bool) -> None:
    """Serialise erasure with the storing of instances in a round (Postgres row lock;
    SQLite's write lock, taken at BEGIN IMMEDIATE, is whole-file already). Storing takes a
    shared lock, so attempts of one round do not wait for each other; erasure an exclusive
    one."""
    statement = sa_select(col(Round.id)).where(col(Round.id) == round_id)
    session.execute(statement.with_for_update(read=not exclusive))


def erased_participants(session: Session, round_id: int) -> set[str]:
    """Ids (as instance strings) of the round's erased trainees: participants and holders
    of live placements whose personal data was erased."""
    participants = union(
        sa_select(col(RoundTrainee.trainee_id).label("tid")).where(
            col(RoundTrainee.round_id) == round_id
        ),
        sa_select(col(Placement.trainee_id).label("tid")).where(
            col(Placement.round_id) == round_id, col(Placement.status) == PlacementStatus.LIVE
        ),
    ).subquery()
    rows = session.execute(
        sa_select(col(Trainee.id))
        .join(participants, participants.c.tid == col(Trainee.id))
        .where(col(Trainee.erased_at).is_not(None))
    ).scalars()
    return {str(tid) for tid in rows}


def scrub_stored_instances(session: Session, trainee_id: int) -> dict[int, str]:
    """Rewrite every stored instance that lists the trainee without them (see the module
    docstring); the previous SHA-256 of each run rewritten, by run id. The caller holds the
    locks of the trainee's rounds (`lock_round_for_instances`)."""
    rounds = union(
        sa_select(col(RoundTrainee.round_id).label("rid")).where(
            col(RoundTrainee.trainee_id) == trainee_id
        ),
        sa_select(col(Placement.round_id).label("rid")).where(
            col(Placement.trainee_id) == trainee_id
        ),
    ).subquery()
    run_ids = list(
        session.execute(
            sa_select(col(MatchRun.id))
            .where(
                col(MatchRun.round_id).in_(sa_select(rounds.c.rid)),
                col(MatchRun.instance_gz).is_not(None),
            )
            .order_by(col(MatchRun.id))
        ).scalars()
    )
    rewritten: dict[int, str] = {}
    key = str(trainee_id)
    for run_id in run_ids:
        row = session.execute(
            sa_select(col(MatchRun.instance_gz), col(MatchRun.instance_sha256)).where(
                col(MatchRun.id) == run_id
            )
        ).one()
        if row.instance_gz is None:
            continue
        data = unpack_instance(run_id, row.instance_gz, row.instance_sha256).data()
        if not any(t.get("id") == key for t in data.get("trainees", [])):
            continue
        packed, sha256 = pack_instance(without_trainees(data, {key}))
        session.execute(
            update(MatchRun)
            .where(col(MatchRun.id) == run_id)
            .values(instance_gz=packed, instance_sha256=sha256)
            .execution_options(synchronize_session=False)
        )
        rewritten[run_id] = row.instance_sha256 or ""
    return rewritten
