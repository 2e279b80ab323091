"""`placement seed-demo`: a realistic, deterministic West Midlands demo that is safe to rerun."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session, SQLModel, select

from placement import migrate
from placement.auth import verify_password
from placement.db import engine_for, make_engine, session_scope
from placement.demo import AUTUMN_ROUND, DEMO_LOGINS, SPRING_ROUND, seed_demo
from placement.demo_data import DISCIPLINES, SKILLS
from placement.errors import Conflict
from placement.matching.geo import distance_km
from placement.models import (
    EmployerRanking,
    Organisation,
    Preference,
    Round,
    RoundTrainee,
    Slot,
    Trainee,
    User,
)
from tests.conftest import PG_ADMIN_URL, Backend, create_postgres_database

ACCREDITATION = {
    "test_lab": "ISO/IEC 17025",
    "device_maker": "ISO 13485",
    "clinical_lab": "ISO 15189",
}
# Timestamps and password salts are the only values allowed to differ between two loads.
VOLATILE = {
    "created_at",
    "updated_at",
    "joined_at",
    "last_login_at",
    "password_hash",
    "email_verified_at",
    "verified_at",
}


def dump(session: Session, *, skip: Collection[str] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    connection = session.connection()
    tables = {}
    for table in SQLModel.metadata.sorted_tables:
        columns = [c for c in table.columns if c.name not in skip]
        query = sa.select(*columns).order_by(*table.primary_key.columns)
        tables[table.name] = [tuple(row) for row in connection.execute(query)]
    return tables


T = TypeVar("T")


def rows(session: Session, model: type[T]) -> list[T]:
    return list(session.exec(select(model)).all())


def test_demo_has_the_promised_size_and_mix(session: Session) -> None:
    summary = seed_demo(session=session)
    assert summary.startswith("Loaded the West Midlands demo")

    orgs = rows(session, Organisation)
    assert len(orgs) >= 12
    kinds = Counter(o.kind for o in orgs)
    assert set(kinds) == {"test_lab", "device_maker", "clinical_lab"}
    assert min(kinds.values()) >= 3
    for org in orgs:
        assert ACCREDITATION[org.kind] in org.accreditations, org.name
        assert re.fullmatch(r"(B|CV|DY|WS|WV)\d{1,2} \d[A-Z]{2}", org.postcode or ""), org.name
        assert 52.3 < (org.latitude or 0) < 52.7 and -2.2 < (org.longitude or 0) < -1.35
    assert 1 <= sum(not o.verified for o in orgs) <= 2

    rounds = {r.status: r for r in rows(session, Round)}
    assert sorted(rounds) == ["closed", "open"]
    spring, autumn = rounds["closed"], rounds["open"]
    assert (spring.name, spring.region) == (SPRING_ROUND, "West Midlands")
    assert (str(spring.starts_on), str(spring.ends_on)) == ("2027-01-11", "2027-07-02")
    assert spring.max_preferences == 10
    assert spring.preference_deadline is not None and spring.preference_deadline < spring.starts_on
    assert autumn.name == AUTUMN_ROUND and autumn.starts_on > spring.ends_on

    slots = rows(session, Slot)
    by_org = {o.id: o for o in orgs}
    spring_slots = [s for s in slots if s.round_id == spring.id]
    assert len(spring_slots) >= 40
    assert 0 < len(slots) - len(spring_slots) < len(spring_slots)
    assert {s.discipline for s in spring_slots} == set(DISCIPLINES)
    for slot in slots:
        rnd = spring if slot.round_id == spring.id else autumn
        assert rnd.starts_on <= slot.starts_on <= slot.ends_on <= rnd.ends_on
        assert slot.min_level in (4, 5) and 1 <= slot.capacity <= 4 and slot.filled == 0
        assert slot.required_skills and set(slot.required_skills) <= set(SKILLS)
        assert by_org[slot.organisation_id].verified, "only vetted hosts post slots"
        assert 20 <= len(slot.description) <= 300
    assert any(s.remote for s in spring_slots)
    assert all(s.requires_dbs for s in slots if by_org[s.organisation_id].kind == "clinical_lab")
    # Each (round, host, title) names one slot: employers and trainees can tell them apart.
    assert len({(s.round_id, s.organisation_id, s.title) for s in slots}) == len(slots)

    trainees = rows(session, Trainee)
    assert len(trainees) >= 150
    assert set(Counter(t.level for t in trainees)) == {4, 5}
    assert 0.6 < sum(t.dbs_cleared for t in trainees) / len(trainees) < 1
    towns_covered = {(t.postcode or "").split()[0].rstrip("0123456789") for t in trainees}
    assert {"B", "CV", "WV", "WS", "DY"} <= towns_covered
    covering = 0
    for t in trainees:
        assert t.skills and set(t.skills) <= set(SKILLS)
        assert t.provider and t.max_travel_km is not None and 10 <= t.max_travel_km <= 50
        assert t.available_from is not None and t.available_to is not None
        covering += t.available_from <= spring.starts_on and spring.ends_on <= t.available_to
        assert 52.3 < (t.latitude or 0) < 52.7 and -2.25 < (t.longitude or 0) < -1.35
    learners = [t for t in trainees if t.user_id is None]
    assert len(learners) == len(trainees) - 1
    assert all(
        re.fullmatch(r"[a-z]+\.[a-z]+\.\d+@learners\.placement\.test", t.email or "")
        for t in learners
    )
    assert 0.6 * len(trainees) < covering < len(trainees), "most, not all, cover the round"


def test_demo_logins_work_and_own_their_data(session: Session) -> None:
    seed_demo(session=session)
    users = {u.email: u for u in rows(session, User)}
    assert len(users) == len(DEMO_LOGINS) == 3
    assert {role for role, _, _ in DEMO_LOGINS} == {"coordinator", "employer", "trainee"}
    for role, email, password in DEMO_LOGINS:
        user = users[email]
        assert user.role == role and user.is_active
        assert verify_password(user.password_hash, password)
        assert not verify_password(user.password_hash, password + "x")

    rounds = {r.status: r.id for r in rows(session, Round)}
    employer = users["employer@placement.test"]
    owned = session.exec(select(Organisation).where(Organisation.owner_id == employer.id)).all()
    assert len(owned) == 1 and owned[0].verified
    assert sum(o.owner_id is not None for o in rows(session, Organisation)) == 1
    employer_rounds = {s.round_id for s in rows(session, Slot) if s.organisation_id == owned[0].id}
    assert employer_rounds == set(rounds.values())

    me = users["trainee@placement.test"]
    profile = session.exec(select(Trainee).where(Trainee.user_id == me.id)).one()
    assert profile.email == me.email and profile.name == me.name
    for field in ("level", "provider", "skills", "postcode", "latitude", "longitude"):
        assert getattr(profile, field), field
    assert profile.max_travel_km and profile.available_from and profile.available_to
    my_rounds = {p.round_id for p in rows(session, Preference) if p.trainee_id == profile.id}
    assert my_rounds == set(rounds.values())


def test_demo_preferences_follow_the_round_rules(session: Session) -> None:
    """Only slots of the same round, ranks 1..n without gaps or repeats, within the round's
    limit; every ranking trainee takes part in the round; employers rank only applicants."""
    seed_demo(session=session)
    rounds = {r.id: r for r in rows(session, Round)}
    slots = {s.id: s for s in rows(session, Slot)}
    trainees = {t.id: t for t in rows(session, Trainee)}
    members = {(m.round_id, m.trainee_id) for m in rows(session, RoundTrainee)}

    lists: dict[tuple[int, int], list[Preference]] = defaultdict(list)
    for pref in rows(session, Preference):
        assert slots[pref.slot_id].round_id == pref.round_id, "a slot from another round"
        lists[pref.round_id, pref.trainee_id].append(pref)
    assert set(lists) == members
    for (round_id, _), prefs in lists.items():
        ranks = sorted(p.rank for p in prefs)
        assert ranks == list(range(1, len(ranks) + 1))
        assert len(ranks) <= rounds[round_id].max_preferences
        assert len({p.slot_id for p in prefs}) == len(prefs)

    spring = next(r for r in rounds.values() if r.status == "closed")
    autumn = next(r for r in rounds.values() if r.status == "open")
    spring_lists = {t: ps for (r, t), ps in lists.items() if r == spring.id}
    assert set(spring_lists) == set(trainees), "every trainee takes part in the closed round"
    assert all(3 <= len(ps) <= 10 for ps in spring_lists.values())
    assert 5 <= sum(r == autumn.id for r, _ in lists) < len(trainees) / 2

    # Realistic but matchable: most trainees ranked at least one slot they can really take.
    def eligible(trainee: Trainee, slot: Slot) -> bool:
        assert trainee.level and trainee.available_from and trainee.available_to
        assert trainee.latitude and trainee.longitude and trainee.max_travel_km
        km = distance_km(trainee.latitude, trainee.longitude, slot.latitude, slot.longitude)
        return (
            trainee.level >= slot.min_level
            and trainee.available_from <= slot.starts_on
            and slot.ends_on <= trainee.available_to
            and (trainee.dbs_cleared or not slot.requires_dbs)
            and (slot.remote or km <= trainee.max_travel_km)
        )

    with_options = [
        t
        for t, ps in spring_lists.items()
        if any(eligible(trainees[t], slots[p.slot_id]) for p in ps)
    ]
    assert len(with_options) >= 0.9 * len(trainees)
    applicants = Counter(p.slot_id for ps in spring_lists.values() for p in ps)
    spring_seats = sum(s.capacity for s in slots.values() if s.round_id == spring.id)
    assert spring_seats < len(trainees), "an oversubscribed round, as in real life"
    assert max(applicants.values()) > 3 * max(s.capacity for s in slots.values())

    rankings: dict[int, list[EmployerRanking]] = defaultdict(list)
    for ranking in rows(session, EmployerRanking):
        assert (spring.id, ranking.trainee_id) in members
        assert any(p.slot_id == ranking.slot_id for p in spring_lists[ranking.trainee_id])
        rankings[ranking.slot_id].append(ranking)
    assert 3 <= len(rankings) <= 10
    for ranked in rankings.values():
        assert sorted(r.rank for r in ranked) == list(range(1, len(ranked) + 1))


def test_second_run_changes_nothing(session: Session) -> None:
    seed_demo(session=session)
    before = dump(session)
    again = seed_demo(session=session)
    assert "already loaded" in again
    session.flush()
    assert dump(session) == before


def test_partial_demo_is_refused_rather_than_guessed(session: Session) -> None:
    session.add(
        User(email=DEMO_LOGINS[0][1], name="Someone", role="coordinator", password_hash="x")
    )
    session.flush()
    with pytest.raises(Conflict, match=r"coordinator@placement\.test"):
        seed_demo(session=session)


@pytest.fixture
def fresh_urls(backend: Backend, tmp_path: Path) -> Iterator[list[str]]:
    """Two new, migrated, empty databases on the backend under test."""
    if backend.name == "postgres":
        urls = [create_postgres_database(f"demo_{label}") for label in "ab"]
    else:
        urls = [f"sqlite:///{tmp_path / f'demo_{label}.sqlite'}" for label in "ab"]
    for url in urls:
        migrate.upgrade(url)
    yield urls
    for url in urls:
        engine_for(url).dispose()
    if backend.name == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            for url in urls:
                conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def test_same_demo_on_fresh_databases_and_through_the_cli(
    fresh_urls: list[str], tmp_path: Path
) -> None:
    first_url, second_url = fresh_urls
    engine = make_engine(first_url)
    try:
        with session_scope(engine) as s:
            summary = seed_demo(session=s)
        with Session(engine) as s:
            expected = dump(s, skip=VOLATILE)
    finally:
        engine.dispose()

    from placement.cli import main

    env = {
        "DATABASE_URL": second_url,
        "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key",
        "REDIS_URL": "",
    }
    runner = CliRunner()
    result = runner.invoke(main, ["seed-demo"], env=env, catch_exceptions=False)
    assert result.exit_code == 0 and result.output.strip() == summary
    result = runner.invoke(main, ["seed-demo"], env=env, catch_exceptions=False)
    assert result.exit_code == 0 and "already loaded" in result.output

    engine = make_engine(second_url)
    try:
        with Session(engine) as s:
            assert dump(s, skip=VOLATILE) == expected, "ids included: same rows, same order"
    finally:
        engine.dispose()
