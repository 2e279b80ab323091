"""Who one more seat would place, stored with an optimal run (SQLite and Postgres): the
rows equal the engine's chains, and the seat values page reads them in the API's order,
page by page, in a handful of queries and without reading any explanation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from placement import matching
from placement.config import Settings
from placement.db import get_engine
from placement.errors import WrongState
from placement.matching.seat_values import result_seat_moves
from placement.models import RunSeatValue, UnplacedTrainee
from placement.services.pages.seat_values import seat_values_page
from placement.services.runs import execution, reading, stored
from placement.services.runs.seat_moves import without_erased_moves
from tests.conftest import Backend
from tests.integration.runs_support import coordinator, run_settings
from tests.integration.runs_support import fetch_run as _run
from tests.integration.runs_support import seed as _seed


@pytest.fixture
def committed_settings(committed_backend: Backend, tmp_path: Path) -> Settings:
    return run_settings(committed_backend, tmp_path)


def test_moves_are_stored_and_paged_without_explanations(committed_settings: Settings) -> None:
    settings = committed_settings
    loaded = _seed(settings, 250)
    actor = coordinator(settings)
    with Session(get_engine(settings), expire_on_commit=False) as session:
        optimal, stable = reading.start_runs(
            session=session, actor=actor, round_id=loaded.round_id,
            modes=("optimal", "stable"), settings=settings, seed=5,
        )  # fmt: skip
    assert optimal.id is not None and stable.id is not None
    for run in (optimal, stable):
        assert run.id is not None
        execution.execute_run(run.id, settings=settings)
        assert _run(settings, run.id).status == "succeeded"
    stats = _run(settings, optimal.id).stats or {}
    assert stats["seat_moves_seconds"] >= 0 and "seat_moves_failed" not in stats

    engine = get_engine(settings)
    with Session(engine) as session:
        data = stored.stored_instance(session=session, run_id=optimal.id).data()
        instance = matching.load_instance(data)
        expected = result_seat_moves(instance, matching.solve(instance))
        values = session.exec(select(RunSeatValue).where(RunSeatValue.run_id == optimal.id)).all()
        got = sorted(
            (v.slot_id, step, *move) for v in values for step, move in enumerate(v.moves or [])
        )
        assert got == sorted(
            (int(m.slot_id), m.step, int(m.trainee_id),
             None if m.from_slot_id is None else int(m.from_slot_id),
             None if m.to_slot_id is None else int(m.to_slot_id))
            for m in expected
        )  # fmt: skip
        assert all((v.moves is None) == (not v.placed_gain and v.cost_change >= 0) for v in values)
        # Every slot that places one more names an unplaced trainee of the run first.
        placing = {v.slot_id for v in values if v.placed_gain}
        unplaced = set(
            session.exec(
                select(UnplacedTrainee.trainee_id).where(UnplacedTrainee.run_id == optimal.id)
            ).all()
        )
        assert placing and all(
            v.moves and v.moves[0][1] is None and v.moves[0][0] in unplaced
            for v in values
            if v.placed_gain
        )
        api = reading.list_seat_values(session=session, actor=actor, run_id=optimal.id,
                                       per_page=500).items  # fmt: skip
        helping = [v.slot_id for v in api if v.placed_gain or v.cost_change < 0]

    # The page: the API's order across pages, names, a few queries, no explanations.
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    shown: list[int] = []
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with Session(engine) as session:
            page_no = 1
            while True:
                statements.clear()
                view = seat_values_page(session, actor, optimal.id, page=page_no, per_page=7)
                assert len(statements) <= 7, statements  # constant: names and ranks included
                assert not any("explanations" in s for s in statements)
                shown += [r.slot_id for r in view.rows.items]
                for r in view.rows.items:
                    assert (r.placed is not None) == bool(r.placed_gain)
                    assert all(m.trainee and not m.trainee.isdigit() for m in r.moves)
                    if r.placed is not None:
                        assert r.placed.from_slot is None and r.placed.to_slot
                if page_no * 7 >= view.rows.total:
                    break
                page_no += 1
            assert view.would_place == len(placing)
            with pytest.raises(WrongState):
                seat_values_page(session, actor, stable.id, page=1, per_page=7)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert shown == helping


def test_a_chain_through_an_erased_trainee_is_left_out() -> None:
    chains: dict[int, list[list[int | None]]] = {
        1: [[10, None, 5], [11, 5, 1]],
        2: [[12, None, 2]],
    }
    assert without_erased_moves(chains, {11}) == {2: [[12, None, 2]]}
    assert without_erased_moves(chains, set()) == chains
