"""The instance file written in parts on several connections sharing one snapshot
(`instance_parts`): byte for byte the single statement's file, whatever commits while the
parts are written, and decoded part by part (`PartsDecoder`) into the instance the whole
file decodes to. On committed data (the parts' connections see only what is committed);
on SQLite the file is the builder's, as before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from placement.matching.decoding import PartsDecoder, decode_instance
from placement.matching.instance import PREFERENCE_POSITIONS
from placement.models import Exclusion, Preference, Slot, Trainee, utcnow
from placement.services import instance_json, instance_parts
from placement.services.instance_json import canonical_instance
from placement.services.instances import build
from tests.conftest import Backend
from tests.integration.test_instance_json import _seeded_round

OPTIONS: list[dict[str, Any]] = [
    {},
    {"weights": {"distance": 2.5}, "allow_unranked": True},
    {"mode": "optimal", "seed": 2**40 + 7},
    {"mode": "stable", "seed": 0},
]


@pytest.fixture
def engine_(committed_backend: Backend, engine: Engine) -> Engine:
    return engine


@pytest.fixture
def round_id(engine_: Engine) -> Iterator[int]:
    with Session(engine_, expire_on_commit=False) as session:
        rnd = _seeded_round(session, 5, n=60)
        session.commit()
        assert rnd.id is not None
        yield rnd.id


def _single(engine: Engine, round_id: int, **kw: Any) -> instance_json.InstanceDocument:
    """The file of the single statement (or of the builder on SQLite), checked against the
    builder's."""
    with Session(engine) as session:
        document = instance_json.instance_file(
            session=session, round_id=round_id, parallel=False, **kw
        )
        assert document.content == canonical_instance(
            build(session=session, round_id=round_id, **kw).data
        )
        return document


def _same_instance(a: Any, b: Any) -> None:
    assert a == b
    assert np.array_equal(getattr(a, PREFERENCE_POSITIONS), getattr(b, PREFERENCE_POSITIONS))


@pytest.mark.parametrize("runs", [1, 2, 3, 7])
def test_parts_give_the_single_statements_bytes(engine_: Engine, round_id: int, runs: int) -> None:
    for options in OPTIONS:
        single = _single(engine_, round_id, **options)
        if engine_.dialect.name != "postgresql":
            continue
        decoder = PartsDecoder()
        parts = instance_parts.instance_file_in_parts(
            engine_, round_id, runs=runs, decoder=decoder, **options
        )
        assert parts is not None
        assert parts.document == single
        # Decoded part by part: the instance of the whole file, preference positions too.
        whole = decode_instance(single.content)
        assert whole is not None
        _same_instance(decoder.finish(parts.header), whole)


def test_a_session_on_an_engine_has_the_file_written_in_parts(
    engine_: Engine, round_id: int
) -> None:
    single = _single(engine_, round_id)
    with Session(engine_) as session:
        assert instance_json.instance_file(session=session, round_id=round_id) == single


def test_parts_read_one_snapshot_whatever_commits_meanwhile(engine_: Engine, round_id: int) -> None:
    if engine_.dialect.name != "postgresql":
        pytest.skip("snapshots shared between connections are Postgres's")
    before = _single(engine_, round_id)

    def change_the_round() -> None:
        """Commits, on another connection, a change to every kind of row the parts read."""
        with Session(engine_) as session:
            ids = session.exec(select(Trainee.id).order_by(col(Trainee.id))).all()
            first, last = ids[0], ids[-1]
            session.execute(
                update(Trainee).where(col(Trainee.id) == last).values(latitude=51.123456)
            )
            session.execute(
                update(Trainee).where(col(Trainee.id) == first).values(erased_at=utcnow())
            )
            session.execute(delete(Preference).where(col(Preference.round_id) == round_id))
            session.execute(
                update(Slot)
                .where(col(Slot.round_id) == round_id)
                .values(capacity=Slot.capacity + 1, ends_on=Slot.ends_on + timedelta(days=1))
            )
            session.execute(delete(Exclusion).where(col(Exclusion.round_id) == round_id))
            session.commit()

    decoder = PartsDecoder()
    parts = instance_parts.instance_file_in_parts(
        engine_, round_id, runs=3, decoder=decoder, after_snapshot=change_the_round
    )
    assert parts is not None
    assert parts.document == before
    after = _single(engine_, round_id)
    assert after.content != before.content
    assert after.left_out["erased"] == before.left_out["erased"] + 1


def test_text_beyond_ascii_goes_to_the_single_statement(engine_: Engine) -> None:
    with Session(engine_, expire_on_commit=False) as session:
        rnd = _seeded_round(session, 6, n=12)
        session.execute(update(Trainee).values(skills=["Zellkultur für Anfänger"]))
        session.commit()
    assert rnd.id is not None
    single = _single(engine_, rnd.id)
    assert b"\\u00fc" in single.content
    if engine_.dialect.name == "postgresql":
        assert instance_parts.instance_file_in_parts(engine_, rnd.id, runs=2) is None
    with Session(engine_) as session:
        assert instance_json.instance_file(session=session, round_id=rnd.id) == single
