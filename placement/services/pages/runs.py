"""Read models of the coordinator's match-run pages: starting a run, a run with its
proposals, why a trainee got their outcome, and two runs compared."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from placement.config import Settings
from placement.errors import NotFound
from placement.models import (
    MatchRun,
    Organisation,
    Proposal,
    ProposalStatus,
    Round,
    RunStatus,
    Slot,
    Trainee,
    UnplacedTrainee,
    User,
)
from placement.services import instances, rounds, runs
from placement.services.common import Page, paginate, require_role
from placement.services.pages.lookups import SlotLabel, slot_labels, trainee_names

RANK_BANDS = {
    "first": "First choice",
    "top3": "Top 3 choice",
    "4plus": "4th choice or worse",
    "unranked": "A slot they did not rank",
}


@dataclass(frozen=True)
class NewRunPage:
    round: Round
    defaults: dict[str, float]


def new_run_page(session: Session, actor: User, round_id: int) -> NewRunPage:
    require_role(actor, "coordinator")
    rnd = rounds.get_round_for(session=session, actor=actor, round_id=round_id)
    return NewRunPage(round=rnd, defaults=instances.default_weights())


def _run_and_round(session: Session, actor: User, run_id: int) -> tuple[MatchRun, Round]:
    run = runs.get_run(session=session, actor=actor, run_id=run_id)
    rnd = rounds.get_round_for(session=session, actor=actor, round_id=run.round_id)
    return run, rnd


def open_count(session: Session, actor: User, run_id: int) -> int:
    """How many of the run's proposals wait for a decision."""
    return runs.list_proposals(
        session=session, actor=actor, run_id=run_id, status=ProposalStatus.PROPOSED, per_page=1
    ).total


@dataclass(frozen=True)
class RankBar:
    label: str
    count: int


def rank_distribution(session: Session, run_id: int, max_preferences: int) -> list[RankBar]:
    """How many proposals of a run gave each choice (1st, 2nd, ...; 'unranked' last)."""
    counts = Counter(session.exec(select(Proposal.rank).where(Proposal.run_id == run_id)).all())
    worst = max([r for r in counts if r is not None] or [0])
    top = max(min(max_preferences, 50), worst, 1)
    bars = [RankBar(str(r), counts.get(r, 0)) for r in range(1, top + 1)]
    # Trailing empty ranks add nothing to the picture.
    while len(bars) > 1 and bars[-1].count == 0:
        bars.pop()
    if counts.get(None):
        bars.append(RankBar("unranked", counts[None]))
    return bars


@dataclass(frozen=True)
class ProposalRow:
    proposal: Proposal
    trainee_name: str
    slot_title: str
    organisation: str


def _contains(text: str) -> str:
    """A LIKE pattern for 'contains `text`', with the pattern characters taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def find_proposals(
    session: Session,
    run_id: int,
    *,
    status: str | None = None,
    trainee: str | None = None,
    rank: str | None = None,
    slot: str | None = None,
    page: int = 1,
    per_page: int = 25,
) -> Page[ProposalRow]:
    """One page of a run's proposals, in id order, with the names a table shows, in one
    query: `trainee` matches the trainee's name, `slot` the slot's title or its host's
    name (both case-insensitive 'contains'), `rank` is one of `RANK_BANDS`."""
    statement = (
        select(Proposal, col(Trainee.name), col(Slot.title), col(Organisation.name))
        .join(Trainee, col(Trainee.id) == col(Proposal.trainee_id))
        .join(Slot, col(Slot.id) == col(Proposal.slot_id))
        .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
        .where(col(Proposal.run_id) == run_id)
    )
    if status:
        statement = statement.where(col(Proposal.status) == status)
    if trainee:
        statement = statement.where(col(Trainee.name).ilike(_contains(trainee), escape="\\"))
    if slot:
        pattern = _contains(slot)
        statement = statement.where(
            or_(
                col(Slot.title).ilike(pattern, escape="\\"),
                col(Organisation.name).ilike(pattern, escape="\\"),
            )
        )
    if rank == "first":
        statement = statement.where(col(Proposal.rank) == 1)
    elif rank == "top3":
        statement = statement.where(col(Proposal.rank) <= 3)
    elif rank == "4plus":
        statement = statement.where(col(Proposal.rank) >= 4)
    elif rank == "unranked":
        statement = statement.where(col(Proposal.rank).is_(None))
    elif rank:
        raise ValueError(f"unknown rank band {rank!r}")
    raw = paginate(session, statement.order_by(col(Proposal.id)), page, per_page)
    return Page(
        items=[ProposalRow(p, t, s, o) for p, t, s, o in raw.items],
        total=raw.total,
        page=raw.page,
        per_page=raw.per_page,
    )


@dataclass(frozen=True)
class RunResults:
    """What a succeeded run shows below its summary."""

    proposals: Page[ProposalRow]
    unplaced: Page[UnplacedTrainee]
    names: dict[int, str]
    bars: list[RankBar]
    open_count: int


@dataclass(frozen=True)
class RunPage:
    run: MatchRun
    round: Round
    results: RunResults | None  # only for a run that succeeded


def run_page(
    session: Session,
    actor: User,
    run_id: int,
    *,
    filters: dict[str, str] | None,
    page: int,
    per_page: int,
) -> RunPage:
    """A run of a round; once it succeeded, also one page of its proposals (filtered by
    `filters`: trainee, slot, rank, status; None shows none, the filters being invalid),
    the trainees it did not place and how the proposals rank."""
    run, rnd = _run_and_round(session, actor, run_id)
    if run.status != RunStatus.SUCCEEDED:
        return RunPage(run=run, round=rnd, results=None)
    if filters is None:
        proposals = Page[ProposalRow](items=[], total=0, page=1, per_page=per_page)
    else:
        proposals = find_proposals(
            session,
            run_id,
            status=filters.get("status") or None,
            trainee=filters.get("trainee") or None,
            rank=filters.get("rank") or None,
            slot=filters.get("slot") or None,
            page=page,
            per_page=per_page,
        )
    unplaced = runs.list_unplaced(session=session, actor=actor, run_id=run_id, per_page=500)
    results = RunResults(
        proposals=proposals,
        unplaced=unplaced,
        names=trainee_names(session, [u.trainee_id for u in unplaced.items]),
        bars=rank_distribution(session, run_id, rnd.max_preferences),
        open_count=open_count(session, actor, run_id),
    )
    return RunPage(run=run, round=rnd, results=results)


def run_progress(session: Session, actor: User, run_id: int) -> MatchRun:
    return runs.get_run(session=session, actor=actor, run_id=run_id)


# --- why, and two runs compared ---------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    slot_id: int | None
    rank: int | None
    status: str  # proposal status, or the unplaced reason


def run_outcomes(session: Session, run_id: int) -> dict[int, Outcome]:
    out: dict[int, Outcome] = {}
    for p in session.exec(select(Proposal).where(Proposal.run_id == run_id)).all():
        out[p.trainee_id] = Outcome(p.slot_id, p.rank, p.status)
    for u in session.exec(select(UnplacedTrainee).where(UnplacedTrainee.run_id == run_id)).all():
        out.setdefault(u.trainee_id, Outcome(None, None, u.reason))
    return out


@dataclass(frozen=True)
class WhyPage:
    run: MatchRun
    trainee_id: int
    outcome: Outcome | None
    explanation: dict[str, Any]  # runs.run_explanation: choices with sentences
    names: dict[int, str]
    slot_labels: dict[int, SlotLabel]


def why_page(session: Session, actor: User, run_id: int, trainee_id: int) -> WhyPage:
    """Why the trainee got what they got in the run, in words, with names for every id."""
    run = runs.get_run(session=session, actor=actor, run_id=run_id)
    explanation = runs.run_explanation(
        session=session, actor=actor, run_id=run_id, trainee_id=trainee_id
    )
    outcome = run_outcomes(session, run_id).get(trainee_id)
    slot_ids = [int(c["slot_id"]) for c in explanation["choices"]]
    if outcome is not None and outcome.slot_id is not None:
        slot_ids.append(outcome.slot_id)
    return WhyPage(
        run=run,
        trainee_id=trainee_id,
        outcome=outcome,
        explanation=explanation,
        names=trainee_names(session, [trainee_id]),
        slot_labels=slot_labels(session, slot_ids),
    )


@dataclass
class Comparison:
    differing: list[tuple[int, Outcome | None, Outcome | None]] = field(default_factory=list)
    same: int = 0
    better_in_b: int = 0  # a better outcome (placed, or a choice ranked higher) in run b
    worse_in_b: int = 0


def _standing(o: Outcome | None) -> tuple[int, int]:
    """Orders outcomes for a trainee: a ranked choice beats an unranked slot beats none."""
    if o is None or o.slot_id is None:
        return (2, 0)
    if o.rank is None:
        return (1, 0)
    return (0, o.rank)


def compare_runs(session: Session, run_a: int, run_b: int) -> Comparison:
    """Trainees whose outcome (slot, or unplaced) differs between two runs."""
    a, b = run_outcomes(session, run_a), run_outcomes(session, run_b)
    result = Comparison()
    for trainee_id in sorted(set(a) | set(b)):
        left, right = a.get(trainee_id), b.get(trainee_id)
        if left is not None and right is not None and left.slot_id == right.slot_id:
            result.same += 1
        else:
            result.differing.append((trainee_id, left, right))
            if _standing(right) < _standing(left):
                result.better_in_b += 1
            elif _standing(right) > _standing(left):
                result.worse_in_b += 1
    return result


@dataclass(frozen=True)
class ComparePage:
    round: Round
    a: MatchRun
    b: MatchRun
    comparison: Comparison | None  # None until both runs have succeeded
    names: dict[int, str]
    slot_labels: dict[int, SlotLabel]
    bars_a: list[RankBar] = field(default_factory=list)
    bars_b: list[RankBar] = field(default_factory=list)


def compare_page(
    session: Session, actor: User, round_id: int, run_a: int, run_b: int
) -> ComparePage:
    """Two runs of one round compared; a run of another round is not found."""
    rnd = rounds.get_round_for(session=session, actor=actor, round_id=round_id)
    a, b = (runs.get_run(session=session, actor=actor, run_id=r) for r in (run_a, run_b))
    if a.round_id != rnd.id or b.round_id != rnd.id:
        raise NotFound("No such run in this round.")
    if a.status != RunStatus.SUCCEEDED or b.status != RunStatus.SUCCEEDED:
        return ComparePage(round=rnd, a=a, b=b, comparison=None, names={}, slot_labels={})
    comparison = compare_runs(session, run_a, run_b)
    slot_ids = [
        o.slot_id for _, *outs in comparison.differing for o in outs if o and o.slot_id is not None
    ]
    return ComparePage(
        round=rnd,
        a=a,
        b=b,
        comparison=comparison,
        names=trainee_names(session, [t for t, _, _ in comparison.differing]),
        slot_labels=slot_labels(session, slot_ids),
        bars_a=rank_distribution(session, run_a, rnd.max_preferences),
        bars_b=rank_distribution(session, run_b, rnd.max_preferences),
    )


def start_side_by_side(
    session: Session, actor: User, round_id: int, settings: Settings
) -> tuple[MatchRun, MatchRun]:
    """Both modes on the round with the default weights and seed 0, in one go."""
    optimal, stable = runs.start_runs(
        session=session,
        actor=actor,
        round_id=round_id,
        modes=("optimal", "stable"),
        settings=settings,
        name="Side by side",
    )
    return optimal, stable
