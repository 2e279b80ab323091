"""Why a trainee got what they got in a succeeded run, judged on the instance it solved."""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass
from datetime import date
from typing import Any

from sqlalchemy import exists, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from placement.errors import NotFound, WrongState
from placement.matching import (
    Assignment,
    Instance,
    Result,
    Stats,
    Unplaced,
    explain,
    load_instance,
)
from placement.matching.explanations import explain_all
from placement.matching.memory import gc_paused
from placement.models import (
    MatchRun,
    Organisation,
    Placement,
    PlacementStatus,
    Proposal,
    ProposalStatus,
    RoundStatus,
    RunExplanation,
    RunStatus,
    Slot,
    Trainee,
    UnplacedTrainee,
    User,
)
from placement.services.common import get_round, require_role, trainee_of
from placement.services.instances import build
from placement.services.runs.reading import get_run
from placement.services.runs.stored import unpack_instance


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _run_result(session: Session, run: MatchRun) -> tuple[Instance, Result]:
    """The instance the run solved and its result from the stored rows.

    The stored instance when there is one; for runs made before instances were stored,
    the round rebuilt as it stands now with the run's weights (an approximation: profiles
    may have changed since).
    """
    if run.status != RunStatus.SUCCEEDED:
        raise WrongState("The run has not succeeded; there is nothing to explain yet.")
    assert run.id is not None
    packed, sha256 = session.execute(
        sa_select(col(MatchRun.instance_gz), col(MatchRun.instance_sha256)).where(
            col(MatchRun.id) == run.id
        )
    ).one()
    proposals = session.execute(
        sa_select(
            col(Proposal.trainee_id),
            col(Proposal.slot_id),
            col(Proposal.rank),
            col(Proposal.cost),
            col(Proposal.terms),
        ).where(col(Proposal.run_id) == run.id)
    ).all()
    unplaced = session.execute(
        select(col(UnplacedTrainee.trainee_id), col(UnplacedTrainee.reason)).where(
            col(UnplacedTrainee.run_id) == run.id
        )
    ).all()
    if packed is not None:
        instance = load_instance(unpack_instance(run.id, packed, sha256).data())
    else:
        built = build(
            session=session,
            round_id=run.round_id,
            weights=run.weights,
            allow_unranked=run.allow_unranked,
        )
        # Approximately the round as the run saw it: trainees the run proposed or left
        # unplaced were not locked then, whatever has been approved since.
        decided = {str(p.trainee_id) for p in proposals} | {str(u.trainee_id) for u in unplaced}
        data = dict(built.data)
        data["locked"] = [p for p in data["locked"] if p["trainee_id"] not in decided]
        instance = load_instance(data)
    assignments = [
        Assignment(
            trainee_id=str(p.trainee_id),
            slot_id=str(p.slot_id),
            rank=p.rank,
            cost=p.cost,
            terms=dict(p.terms),
            locked=False,
        )
        for p in proposals
    ]
    # Pairs locked when the run ran (approved before it).
    assignments += [
        Assignment(
            trainee_id=str(pair.trainee_id),
            slot_id=str(pair.slot_id),
            rank=None,
            cost=0.0,
            terms={},
            locked=True,
        )
        for pair in instance.locked
    ]
    result = Result(
        assignments=tuple(assignments),
        unplaced=tuple(Unplaced(trainee_id=str(u.trainee_id), reason=u.reason) for u in unplaced),
        stats=Stats(**_stats_fields(run.stats or {})),
    )
    return instance, result


def explanation_rows(run_id: int, instance: Instance, result: Result) -> list[dict[str, Any]]:
    """The `RunExplanation` rows of a run, computed by the worker once, in bulk (never by
    a request): one per trainee with something to explain, slot ids as database ids."""
    bodies = explain_all(instance, result, slot_id=int)
    with gc_paused():  # 100,000s of small dicts, no cycles (see explain_all)
        return [{"run_id": run_id, "trainee_id": int(t), "body": b} for t, b in bodies.items()]


def _stats_fields(stats: dict[str, Any]) -> dict[str, Any]:
    return {f.name: stats.get(f.name, 0) for f in fields(Stats)}


def explain_trainee(
    *, session: Session, actor: User | None, run_id: int, trainee_id: int
) -> list[dict[str, Any]]:
    """Why the trainee got what they got in this run: one entry per choice ranked above
    their outcome (ineligible and which rule, or full and who took it at what cost).

    Judged on the instance the run stored, so the answer does not change when profiles,
    preferences or placements change after the run (older runs without a stored instance
    are judged on the round rebuilt as it stands).
    """
    run = get_run(session=session, actor=actor, run_id=run_id)
    instance, result = _run_result(session, run)
    if str(trainee_id) not in {str(t.id) for t in instance.trainees}:
        raise NotFound("That trainee was not part of this run.")
    explained = explain(instance, result, str(trainee_id))
    if isinstance(explained, dict):
        explained = [explained]
    return [_jsonable(item) for item in explained]


def explain_proposal(*, session: Session, actor: User | None, proposal_id: int) -> dict[str, Any]:
    """A proposal with its cost terms and the reasons its trainee did not get a better slot."""
    require_role(actor, "coordinator")
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound("No such proposal.")
    reasons = explain_trainee(
        session=session, actor=actor, run_id=proposal.run_id, trainee_id=proposal.trainee_id
    )
    return {
        "proposal_id": proposal.id,
        "run_id": proposal.run_id,
        "trainee_id": proposal.trainee_id,
        "slot_id": proposal.slot_id,
        "rank": proposal.rank,
        "cost": proposal.cost,
        "terms": dict(proposal.terms),
        "status": proposal.status,
        "reasons": reasons,
    }


# --- explanations in words (issue 12) -----------------------------------------------------

AUDIENCES = ("coordinator", "trainee")


def _ordinal(n: int) -> str:
    if n == 1:
        return "first"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def uk_date(iso: str) -> str:
    """13 Sep 2027."""
    d = date.fromisoformat(iso)
    return f"{d.day} {d.strftime('%b %Y')}"


def _km(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def choice_sentence(
    choice: dict[str, Any], *, audience: str, taken_by: list[str] | None = None
) -> str:
    """One choice's reason in plain words; `taken_by` (names) only for coordinators."""
    you = audience == "trainee"
    subj, be = ("you", "are") if you else ("they", "are")
    outcome = choice["outcome"]
    if outcome == "ineligible":
        rule = choice.get("rule")
        if rule == "dbs":
            return f"This placement needs a DBS check, and {subj} do not have one on record."
        if rule == "distance":
            return (
                f"It is {_km(choice['km'])} km away and {subj} said "
                f"{_km(choice['max_travel_km'])} km at most."
            )
        if rule == "level":
            fixed = (
                " Your level comes from your course, so this is not something you could change "
                "for this round."
                if you
                else " Their level comes from their course: not something they can change."
            )
            return f"It needs level {choice['needed']}; {subj} {be} level {choice['have']}.{fixed}"
        if rule == "availability":
            if choice["available_from"] > choice["starts_on"]:
                return (
                    f"{subj.capitalize()} {be} available from {uk_date(choice['available_from'])}; "
                    f"it starts {uk_date(choice['starts_on'])}."
                )
            return (
                f"{subj.capitalize()} {be} available until {uk_date(choice['available_to'])}; "
                f"it ends {uk_date(choice['ends_on'])}."
            )
        if rule == "excluded":
            return "A coordinator ruled out this pairing" + (
                "; it is not something you could change."
                if you
                else ": not something they could change."
            )
        return "Not eligible."
    if outcome == "full":
        if taken_by:
            return f"Full: filled by {', '.join(taken_by)}, whom the match placed there."
        return "It was full: filled by trainees the match placed there."
    if outcome == "costlier":
        return (
            "It had a free seat, but the round as a whole did better this way: placing "
            f"{'you' if you else 'them'} there would have meant fewer trainees placed or a "
            "higher total cost for everyone."
        )
    if outcome == "lower_priority":
        if choice.get("by") == "employer":
            return (
                "It was filled by trainees its employer ranked ahead of "
                f"{'you' if you else 'them'}."
            )
        return (
            "It was filled by trainees who came before "
            f"{'you' if you else 'them'} in the round's lottery "
            "(it decides between trainees the employer did not rank)."
        )
    return outcome


def counterfactual_sentence(
    cf: dict[str, Any] | None, slot_title: str, *, audience: str
) -> str | None:
    """The smallest change that would have placed the trainee higher, in words."""
    if cf is None:
        return None
    you = audience == "trainee"
    subj = "you" if you else "they"
    place = f"{subj} would have been placed at {slot_title}"
    if cf.get("or_higher"):
        place += f" or at a choice {subj} ranked higher"
    kind = cf["kind"]
    if kind == "rank":
        return (
            f"If {subj} had put {slot_title} {_ordinal(int(cf['move_to']))} on "
            f"{'your' if you else 'their'} list instead of {_ordinal(int(cf['rank']))}, "
            f"{subj} would have been placed there."
        )
    if kind == "distance":
        return f"If {subj} could travel {cf['max_travel_km']} km, {place}."
    if kind == "dbs":
        return f"With a DBS check, {place}."
    if kind == "availability":
        return (
            f"If {subj} were available from {uk_date(cf['available_from'])} to "
            f"{uk_date(cf['available_to'])}, {place}."
        )
    if kind == "skills":
        skills = [str(x).strip() for x in cf.get("skills", [])]
        listed = skills[0] if len(skills) == 1 else ", ".join(skills[:-1]) + " and " + skills[-1]
        noun = "skill" if len(skills) == 1 else "skills"
        return (
            f"If {subj} had the {noun} {listed} on {'your' if you else 'their'} profile, {place}."
        )
    return None


def _slot_titles(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        sa_select(col(Slot.id), col(Slot.title), col(Organisation.name))
        .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
        .where(col(Slot.id).in_(sorted(ids)))
    ).all()
    return {int(i): f"{t} ({o})" for i, t, o in rows}


def stored_explanation(session: Session, run: MatchRun, trainee_id: int) -> dict[str, Any]:
    """The structured explanation the worker stored for the trainee (the engine's body
    with database ids); for a trainee placed at their first choice, a body with no choices.
    NotFound when the trainee was not part of the run."""
    assert run.id is not None
    row = session.get(RunExplanation, (run.id, trainee_id))
    if row is not None:
        return dict(row.body)
    if run.status != RunStatus.SUCCEEDED:
        raise WrongState("The run has not succeeded; there is nothing to explain yet.")
    proposal = session.exec(
        select(Proposal).where(Proposal.run_id == run.id, Proposal.trainee_id == trainee_id)
    ).first()
    if (run.stats or {}).get("explain_seconds") is not None:
        # The worker stored a row for everyone with something to explain.
        if proposal is None:
            raise NotFound("That trainee was not part of this run.")
        return {
            "outcome": "placed",
            "slot_id": proposal.slot_id,
            "rank": proposal.rank,
            "choices": [],
            "counterfactual": None,
        }
    # Runs written before explanations were stored: judged now on the stored instance
    # (no solve), or not at all.
    instance, result = _run_result(session, run)
    bodies = explain_all(instance, result, slot_id=int)
    body = bodies.get(str(trainee_id))
    if body is None:
        if proposal is None:
            raise NotFound("That trainee was not part of this run.")
        return {
            "outcome": "placed",
            "slot_id": proposal.slot_id,
            "rank": proposal.rank,
            "choices": [],
            "counterfactual": None,
        }
    return body


def _occupants(session: Session, run_id: int, slot_ids: set[int]) -> dict[int, list[int]]:
    """Who the run placed at each slot (its proposals), plus placements approved before."""
    out: dict[int, list[int]] = {}
    if not slot_ids:
        return out
    rows = session.execute(
        sa_select(col(Proposal.slot_id), col(Proposal.trainee_id))
        .where(col(Proposal.run_id) == run_id, col(Proposal.slot_id).in_(sorted(slot_ids)))
        .order_by(col(Proposal.id))
    ).all()
    for sid, tid in rows:
        out.setdefault(int(sid), []).append(int(tid))
    return out


def render_explanation(
    session: Session, run: MatchRun, trainee_id: int, body: dict[str, Any], *, audience: str
) -> dict[str, Any]:
    """The API's explanation: `{trainee_id, outcome, slot_id, rank, choices: [{slot_id,
    rank, outcome, detail}], counterfactual}` with sentences for `audience`. Only a
    coordinator's sentences name other trainees."""
    assert audience in AUDIENCES and run.id is not None
    full_ids = {c["slot_id"] for c in body["choices"] if c["outcome"] == "full"}
    names: dict[int, str] = {}
    occupants: dict[int, list[int]] = {}
    if audience == "coordinator" and full_ids:
        occupants = _occupants(session, run.id, full_ids)
        ids = {t for ts in occupants.values() for t in ts}
        rows = session.execute(
            sa_select(col(Trainee.id), col(Trainee.name)).where(col(Trainee.id).in_(sorted(ids)))
        ).all()
        names = {int(i): n for i, n in rows}
    cf = body.get("counterfactual")
    titles = _slot_titles(session, {cf["slot_id"]} if cf else set())
    choices = [
        {
            "slot_id": c["slot_id"],
            "rank": c["rank"],
            "outcome": c["outcome"],
            "detail": choice_sentence(
                c,
                audience=audience,
                taken_by=[names.get(t, f"trainee {t}") for t in occupants.get(c["slot_id"], [])]
                or None,
            ),
        }
        for c in body["choices"]
    ]
    return {
        "trainee_id": trainee_id,
        "run_id": run.id,
        "mode": run.mode,
        "outcome": body["outcome"],
        "slot_id": body["slot_id"],
        "rank": body["rank"],
        "choices": choices,
        "counterfactual": counterfactual_sentence(
            cf, titles.get(cf["slot_id"], "that slot") if cf else "", audience=audience
        ),
    }


def run_explanation(
    *, session: Session, actor: User | None, run_id: int, trainee_id: int
) -> dict[str, Any]:
    """`GET /runs/{id}/explanations/{trainee_id}` (coordinators)."""
    run = get_run(session=session, actor=actor, run_id=run_id)
    body = stored_explanation(session, run, trainee_id)
    return render_explanation(session, run, trainee_id, body, audience="coordinator")


def outcome_run(session: Session, round_id: int, trainee_id: int) -> MatchRun | None:
    """The run behind a trainee's outcome: the one whose approved proposal made their live
    placement, else the latest succeeded run of the round that included them, preferring
    runs the coordinator approved proposals from (a run nobody acted on, say the other
    mode of a side-by-side comparison, did not decide anything)."""
    placement = session.exec(
        select(Placement).where(
            Placement.round_id == round_id,
            Placement.trainee_id == trainee_id,
            Placement.status == PlacementStatus.LIVE,
        )
    ).first()
    if placement is not None and placement.proposal_id is not None:
        proposal = session.get(Proposal, placement.proposal_id)
        if proposal is not None:
            return session.get(MatchRun, proposal.run_id)
    runs_with = (
        select(MatchRun)
        .where(MatchRun.round_id == round_id, MatchRun.status == RunStatus.SUCCEEDED)
        .where(
            or_(
                col(MatchRun.id).in_(
                    select(Proposal.run_id).where(Proposal.trainee_id == trainee_id)
                ),
                col(MatchRun.id).in_(
                    select(UnplacedTrainee.run_id).where(UnplacedTrainee.trainee_id == trainee_id)
                ),
            )
        )
    )
    # Per candidate run, through the run index (proposals.status has no index of its own).
    acted_on = exists().where(
        col(Proposal.run_id) == col(MatchRun.id),
        col(Proposal.status) == ProposalStatus.APPROVED,
    )
    newest = col(MatchRun.id).desc()
    return (
        session.exec(runs_with.where(acted_on).order_by(newest)).first()
        or session.exec(runs_with.order_by(newest)).first()
    )


def my_outcome(*, session: Session, actor: User | None, round_id: int) -> dict[str, Any]:
    """`GET /rounds/{id}/outcome`: the calling trainee's explanation, after publish only;
    no other trainee is named."""
    actor = require_role(actor, "trainee")
    rnd = get_round(session, round_id, actor=actor)
    if rnd.status != RoundStatus.PUBLISHED:
        raise WrongState("Results are not published yet for this round.")
    trainee = trainee_of(session, actor)
    assert trainee.id is not None
    run = outcome_run(session, round_id, trainee.id)
    if run is None:
        raise NotFound("No match run of this round included you.")
    body = stored_explanation(session, run, trainee.id)
    out = render_explanation(session, run, trainee.id, body, audience="trainee")
    out.pop("run_id")
    return out
