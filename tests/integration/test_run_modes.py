"""Both modes through the run pipeline (in-process), on SQLite and Postgres: the run
carries its mode and seed, optimal runs store seat values equal to the engine's, stable
runs their lottery, and every run stores explanations the services put in words."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from placement import matching
from placement.config import Settings
from placement.db import get_engine
from placement.errors import Forbidden, InvalidInput, NotFound, WrongState
from placement.models import (
    MatchRun,
    Proposal,
    RunExplanation,
    RunSeatValue,
    UnplacedTrainee,
    User,
)
from placement.services import approvals
from placement.services.runs import execution, explanations, reading, stored
from tests import factories as f
from tests.conftest import Backend
from tests.integration.runs_support import coordinator, run_settings
from tests.integration.runs_support import fetch_run as _run
from tests.integration.runs_support import seed as _seed


@pytest.fixture
def committed_settings(committed_backend: Backend, tmp_path: Path) -> Settings:
    return run_settings(committed_backend, tmp_path)


def test_both_modes_store_their_results(committed_settings: Settings) -> None:
    settings = committed_settings
    loaded = _seed(settings, 250)
    actor = coordinator(settings)
    with Session(get_engine(settings), expire_on_commit=False) as session:
        optimal, stable = reading.start_runs(
            session=session,
            actor=actor,
            round_id=loaded.round_id,
            modes=("optimal", "stable"),
            settings=settings,
            seed=7,
            name="Side by side",
        )
    assert (optimal.mode, stable.mode, optimal.seed, stable.name) == (
        "optimal", "stable", 7, "Side by side",
    )  # fmt: skip
    for run in (optimal, stable):
        assert run.id is not None
        execution.execute_run(run.id, settings=settings)
        assert _run(settings, run.id).status == "succeeded"
    assert optimal.id is not None and stable.id is not None
    with Session(get_engine(settings)) as session:
        data = stored.stored_instance(session=session, run_id=optimal.id).data()
        assert (data["mode"], data["seed"], data["seat_values"]) == ("optimal", 7, True)
        expected = matching.solve(matching.load_instance(data))
        assert expected.seat_values is not None
        rows = session.exec(select(RunSeatValue).where(RunSeatValue.run_id == optimal.id)).all()
        got = {(r.slot_id, r.placed_gain, r.cost_change) for r in rows}
        assert got == {(int(v.slot_id), v.placed_gain, v.cost_change) for v in expected.seat_values}
        page = reading.list_seat_values(
            session=session, actor=actor, run_id=optimal.id, per_page=500
        )
        keys = [(-v.placed_gain, v.cost_change) for v in page.items]
        assert keys == sorted(keys) and page.total == len(data["slots"])
        with pytest.raises(WrongState):
            reading.list_seat_values(session=session, actor=actor, run_id=stable.id)

        sdata = stored.stored_instance(session=session, run_id=stable.id).data()
        sresult = matching.solve(matching.load_instance(sdata))
        stable_run = session.get(MatchRun, stable.id)
        assert stable_run is not None and stable_run.lottery == list(sresult.lottery or ())
        assert (stable_run.stats or {})["blocking_pairs"] == 0
        proposals = {
            (p.trainee_id, p.slot_id)
            for p in session.exec(select(Proposal).where(Proposal.run_id == stable.id)).all()
        }
        assert proposals == {
            (int(a.trainee_id), int(a.slot_id)) for a in sresult.assignments if not a.locked
        }

        # Explanations: stored per trainee, rendered in words.
        for run_id, mode in ((optimal.id, "optimal"), (stable.id, "stable")):
            rows_e = session.exec(
                select(RunExplanation).where(RunExplanation.run_id == run_id)
            ).all()
            assert rows_e
            unplaced = session.exec(
                select(UnplacedTrainee).where(UnplacedTrainee.run_id == run_id)
            ).all()
            assert {u.trainee_id for u in unplaced} <= {r.trainee_id for r in rows_e}
            outcomes = {c["outcome"] for r in rows_e for c in r.body["choices"]}
            allowed = {"ineligible", "full", "costlier"} if mode == "optimal" else {
                "ineligible", "full", "lower_priority"}  # fmt: skip
            assert outcomes <= allowed and outcomes
            row = next(r for r in rows_e if r.body["choices"])
            said = explanations.run_explanation(
                session=session, actor=actor, run_id=run_id, trainee_id=row.trainee_id
            )
            assert said["trainee_id"] == row.trainee_id
            assert len(said["choices"]) == len(row.body["choices"])
            assert all(c["detail"].endswith(".") for c in said["choices"])
            assert "x 0.25" not in str(said)
        first = session.exec(
            select(Proposal).where(Proposal.run_id == optimal.id, col(Proposal.rank) == 1)
        ).first()
        assert first is not None
        said = explanations.run_explanation(
            session=session, actor=actor, run_id=optimal.id, trainee_id=first.trainee_id
        )
        assert said["outcome"] == "placed" and said["choices"] == [] and said["rank"] == 1
        with pytest.raises(NotFound):
            explanations.run_explanation(
                session=session, actor=actor, run_id=optimal.id, trainee_id=0
            )
        trainee_user = session.exec(select(User).where(User.role == "coordinator")).first()
        assert trainee_user is not None
        with pytest.raises(Forbidden):
            explanations.run_explanation(
                session=session, actor=f.user(session, role="trainee"), run_id=optimal.id,
                trainee_id=first.trainee_id,
            )  # fmt: skip


def test_a_stable_run_is_approved_like_an_optimal_one(committed_settings: Settings) -> None:
    settings = committed_settings
    loaded = _seed(settings, 60)
    actor = coordinator(settings)
    with Session(get_engine(settings), expire_on_commit=False) as session:
        (run,) = reading.start_runs(
            session=session, actor=actor, round_id=loaded.round_id, modes=("stable",),
            settings=settings,
        )  # fmt: skip
    assert run.id is not None
    execution.execute_run(run.id, settings=settings)
    with Session(get_engine(settings), expire_on_commit=False) as session:
        proposals = session.exec(select(Proposal).where(Proposal.run_id == run.id)).all()
        done = approvals.approve_all(session=session, actor=actor, run_id=run.id)
        assert done.approved == len(proposals) > 0 and done.conflicts == 0


def test_start_runs_checks_mode_and_seed(committed_settings: Settings) -> None:
    settings = committed_settings
    loaded = _seed(settings, 20)
    actor = coordinator(settings)
    with Session(get_engine(settings), expire_on_commit=False) as session:
        for kw in ({"mode": "fair"}, {"seed": -1}, {"seed": 2**63}, {"name": "x" * 201}):
            with pytest.raises(InvalidInput):
                reading.start_run(
                    session=session, actor=actor, round_id=loaded.round_id, settings=settings, **kw
                )


def test_counterfactuals_and_fixed_rules_in_words() -> None:
    """Issue 12: every kind of counterfactual in words a trainee understands, and the rules
    a trainee cannot change said plainly."""
    from placement.services.runs.explanations import choice_sentence, counterfactual_sentence

    lab = "Microbiology (Selly Oak Labs)"

    def said(cf: dict[str, object], audience: str = "trainee") -> str | None:
        return counterfactual_sentence(cf, lab, audience=audience)

    assert said({"kind": "rank", "rank": 3, "move_to": 1}) == (
        f"If you had put {lab} first on your list instead of 3rd, you would have been placed there."
    )
    assert said({"kind": "distance", "max_travel_km": 34}) == (
        f"If you could travel 34 km, you would have been placed at {lab}."
    )
    assert said({"kind": "dbs", "or_higher": True}) == (
        f"With a DBS check, you would have been placed at {lab} or at a choice you ranked higher."
    )
    assert said({"kind": "availability", "available_from": "2027-02-01",
                 "available_to": "2027-05-28"}) == (
        f"If you were available from 1 Feb 2027 to 28 May 2027, you would have been placed "
        f"at {lab}."
    )  # fmt: skip
    assert said({"kind": "skills", "skills": ["PCR", "pipetting"]}) == (
        f"If you had the skills PCR and pipetting on your profile, you would have been "
        f"placed at {lab}."
    )
    assert said({"kind": "skills", "skills": ["gmp"]}, "coordinator") == (
        f"If they had the skill gmp on their profile, they would have been placed at {lab}."
    )
    assert said(None) is None  # type: ignore[arg-type]
    level = {"outcome": "ineligible", "rule": "level", "needed": 5, "have": 4}
    assert "not something you could change" in choice_sentence(level, audience="trainee")
    excluded = {"outcome": "ineligible", "rule": "excluded"}
    assert "not something you could change" in choice_sentence(excluded, audience="trainee")
