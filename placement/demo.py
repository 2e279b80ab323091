"""The West Midlands demo loaded by `placement seed-demo`.

Deterministic: one seeded generator drives every choice, so two fresh databases get the same
rows (only timestamps and password salts differ). Safe to run twice: the spring round's name
marks a loaded demo, and a second call changes nothing. Rows go straight into the models in
the caller's session, which is flushed here and committed by the caller.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from sqlmodel import Session, col, select

from placement.auth import hash_password
from placement.demo_data import (
    AUTUMN_SLOTS,
    DEMO_TRAINEE_AUTUMN_CHOICES,
    DEMO_TRAINEE_SPRING_CHOICES,
    DISCIPLINE_INTEREST,
    EMPLOYER_ORG_KEY,
    FIRST_NAMES,
    GENERAL_SKILLS,
    NEEDS,
    ORGANISATIONS,
    PROVIDERS,
    RANKED_SLOTS,
    REGION,
    SKILLS_BY_DISCIPLINE,
    SLOTS,
    SURNAMES,
    TOWNS,
    SlotSpec,
    Town,
)
from placement.errors import Conflict
from placement.matching.geo import distance_km
from placement.models import (
    Accreditation,
    EmployerRanking,
    Organisation,
    Preference,
    Round,
    RoundTrainee,
    Slot,
    Trainee,
    User,
    Verification,
    utcnow,
)
from placement.services.postcode_directory import DEMO_POSTCODES, load_postcode_file

SEED = 2027
# The demo's DBS checks were seen a few months ago (recorded checks: see services.vetting).
DBS_CHECKED_ON = utcnow().date() - timedelta(days=120)
TRAINEE_COUNT = 160
SHORTLIST = 10  # applicants an employer ranks on a slot
LEARNER_EMAIL_DOMAIN = "learners.placement.test"

SPRING_ROUND = "West Midlands MedTech placements 2027 (spring)"
AUTUMN_ROUND = "West Midlands MedTech placements 2027 (autumn)"

# (role, email, password): the README shows the same table.
DEMO_LOGINS: list[tuple[str, str, str]] = [
    ("coordinator", "coordinator@placement.test", "demo-coordinator-2027"),
    ("employer", "employer@placement.test", "demo-employer-2027"),
    ("trainee", "trainee@placement.test", "demo-trainee-2027"),
]
_LOGIN_NAMES = {
    "coordinator": "Helen Okafor",
    "employer": "Gareth Pritchard",
    "trainee": "Amara Osei",
}

_SPRING = (date(2027, 1, 11), date(2027, 7, 2))
_AUTUMN = (date(2027, 9, 13), date(2027, 12, 17))
# Slot periods inside each round, most of them spanning the bulk of it.
_SPRING_WINDOWS = (
    ((date(2027, 1, 18), date(2027, 6, 25)), 4),
    ((date(2027, 1, 11), date(2027, 7, 2)), 2),
    ((date(2027, 2, 1), date(2027, 6, 25)), 3),
    ((date(2027, 2, 1), date(2027, 5, 28)), 2),
    ((date(2027, 3, 1), date(2027, 6, 25)), 2),
    ((date(2027, 4, 12), date(2027, 7, 2)), 1),
)
_AUTUMN_WINDOWS = (
    ((date(2027, 9, 13), date(2027, 12, 17)), 3),
    ((date(2027, 9, 20), date(2027, 12, 10)), 2),
    ((date(2027, 10, 4), date(2027, 12, 17)), 1),
)
# Trainee availability: most cover the spring round, some the whole year, some only part.
_AVAILABILITY = (
    ((date(2027, 1, 4), date(2027, 7, 9)), 70),
    ((date(2027, 1, 4), date(2027, 12, 17)), 14),
    ((date(2027, 3, 1), date(2027, 7, 9)), 8),
    ((date(2027, 1, 4), date(2027, 5, 28)), 8),
)
_TRAVEL_KM = (10, 15, 20, 20, 25, 25, 30, 30, 40, 50)
_POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters used in inward codes


def seed_demo(*, session: Session) -> str:
    """Load the demo into `session` (flushed, not committed); a one-line summary."""
    # The postcodes the demo uses (ONSPD format), so that its people can change theirs.
    load_postcode_file(session=session, path=DEMO_POSTCODES)
    existing = session.exec(
        select(Round).where(Round.name == SPRING_ROUND, Round.region == REGION)
    ).first()
    if existing is not None:
        return f"The West Midlands demo is already loaded (round {existing.id}); nothing changed."
    _refuse_leftovers(session)
    return _DemoBuilder(session, random.Random(SEED)).build()


def _refuse_leftovers(session: Session) -> None:
    """Demo accounts or learners without the demo round: a partial demo we will not guess at."""
    emails = [email for _, email, _ in DEMO_LOGINS]
    taken = set(session.exec(select(User.email).where(col(User.email).in_(emails))).all())
    learners = session.exec(
        select(Trainee.email).where(
            col(Trainee.email).in_(emails) | col(Trainee.email).like(f"%@{LEARNER_EMAIL_DOMAIN}")
        )
    ).all()
    taken.update(email for email in learners if email is not None)
    if taken:
        raise Conflict(
            "The demo round is missing but demo people already exist "
            f"({', '.join(sorted(taken)[:3])}{', ...' if len(taken) > 3 else ''}); "
            "load the demo into an empty database."
        )


def _id(row: Organisation | Round | Slot | Trainee | User) -> int:
    assert row.id is not None, "flush before using an id"
    return row.id


T = TypeVar("T")


def _weighted(rng: random.Random, options: Sequence[tuple[T, int]]) -> T:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


@dataclass
class _Offer:
    slot: Slot
    spec: SlotSpec
    popularity: float


@dataclass
class _Person:
    trainee: Trainee
    interests: tuple[str, ...]


class _DemoBuilder:
    def __init__(self, session: Session, rng: random.Random) -> None:
        self.session = session
        self.rng = rng

    def build(self) -> str:
        users = self._users()
        orgs = self._organisations(owner=users["employer"])
        self._vetting(orgs, coordinator=users["coordinator"])
        spring, autumn = self._rounds()
        spring_offers = self._spring_slots(spring, orgs)
        autumn_offers = self._autumn_slots(autumn, orgs)
        people = self._trainees(users["trainee"])
        spring_prefs = self._preferences(
            spring, spring_offers, people, everyone=True, demo_choices=DEMO_TRAINEE_SPRING_CHOICES
        )
        autumn_prefs = self._preferences(
            autumn, autumn_offers, people, everyone=False, demo_choices=DEMO_TRAINEE_AUTUMN_CHOICES
        )
        rankings = self._rankings(spring_offers, spring_prefs, people)
        verified = sum(o.verified for o in orgs.values())
        return (
            f"Loaded the West Midlands demo: {len(orgs)} organisations ({verified} verified), "
            f"{len(spring_offers) + len(autumn_offers)} slots, {len(people)} trainees, "
            f"{len(spring_prefs) + len(autumn_prefs)} preferences, {rankings} employer "
            f"rankings; '{SPRING_ROUND}' is closed and ready to match, '{AUTUMN_ROUND}' is open. "
            f"Logins: {', '.join(email for _, email, _ in DEMO_LOGINS)}."
        )

    def _flush(self, rows: Sequence[object]) -> None:
        self.session.add_all(rows)
        self.session.flush()

    def _users(self) -> dict[str, User]:
        users = {
            role: User(
                email=email,
                name=_LOGIN_NAMES[role],
                role=role,
                password_hash=hash_password(password),
                # The demo's addresses are the operator's own, like create-user's.
                email_verified_at=utcnow(),
            )
            for role, email, password in DEMO_LOGINS
        }
        self._flush(list(users.values()))
        return users

    def _organisations(self, *, owner: User) -> dict[str, Organisation]:
        orgs = {
            spec.key: Organisation(
                owner_id=owner.id if spec.key == EMPLOYER_ORG_KEY else None,
                name=spec.name,
                kind=spec.kind,
                accreditations=list(spec.accreditations),
                postcode=spec.postcode,
                latitude=spec.latitude,
                longitude=spec.longitude,
                website=spec.website,
                verified=spec.verified,
            )
            for spec in ORGANISATIONS
        }
        self._flush(list(orgs.values()))
        return orgs

    def _vetting(self, orgs: dict[str, Organisation], *, coordinator: User) -> None:
        """Each host's accreditations as complete records (current for two more years),
        and the verification of the verified ones."""
        expires = utcnow().date() + timedelta(days=730)
        records = [
            Accreditation(
                organisation_id=org.id or 0,
                standard=standard,
                body="UKAS" if standard in ("ISO/IEC 17025", "ISO 15189") else "BSI",
                number=f"{org.id or 0:04d}-{index}",
                expires_on=expires,
            )
            for org in orgs.values()
            for index, standard in enumerate(org.accreditations, start=1)
        ]
        self._flush(records)
        self._flush(
            [
                Verification(
                    organisation_id=org.id or 0,
                    verified_by=coordinator.id,
                    seen="Accreditation schedules checked on the UKAS and BSI registers.",
                    snapshot={"name": org.name, "website": org.website},
                )
                for org in orgs.values()
                if org.verified
            ]
        )

    def _rounds(self) -> tuple[Round, Round]:
        spring = Round(
            name=SPRING_ROUND,
            region=REGION,
            starts_on=_SPRING[0],
            ends_on=_SPRING[1],
            preference_deadline=date(2026, 12, 4),
            max_preferences=10,
            status="closed",
        )
        autumn = Round(
            name=AUTUMN_ROUND,
            region=REGION,
            starts_on=_AUTUMN[0],
            ends_on=_AUTUMN[1],
            preference_deadline=date(2027, 8, 20),
            max_preferences=8,
            status="open",
        )
        self._flush([spring, autumn])
        return spring, autumn

    def _slot(
        self,
        rnd: Round,
        org: Organisation,
        spec: SlotSpec,
        capacity: int,
        period: tuple[date, date],
    ) -> Slot:
        assert org.latitude is not None and org.longitude is not None
        return Slot(
            round_id=_id(rnd),
            organisation_id=_id(org),
            title=spec.title,
            discipline=spec.discipline,
            description=spec.description,
            required_skills=list(spec.skills),
            min_level=spec.min_level,
            capacity=capacity,
            postcode=org.postcode,
            latitude=org.latitude,
            longitude=org.longitude,
            remote=spec.remote,
            requires_dbs=spec.requires_dbs,
            starts_on=period[0],
            ends_on=period[1],
        )

    def _spring_slots(self, rnd: Round, orgs: dict[str, Organisation]) -> list[_Offer]:
        offers = []
        for spec in SLOTS:
            period = _weighted(self.rng, _SPRING_WINDOWS)
            slot = self._slot(rnd, orgs[spec.org], spec, spec.capacity, period)
            offers.append(_Offer(slot, spec, self.rng.lognormvariate(0.0, 0.6)))
        self._flush([o.slot for o in offers])
        return offers

    def _autumn_slots(self, rnd: Round, orgs: dict[str, Organisation]) -> list[_Offer]:
        specs = {(spec.org, spec.title): spec for spec in SLOTS}
        offers = []
        for org_key, title, capacity in AUTUMN_SLOTS:
            spec = specs[org_key, title]
            period = _weighted(self.rng, _AUTUMN_WINDOWS)
            slot = self._slot(rnd, orgs[org_key], spec, capacity, period)
            offers.append(_Offer(slot, spec, self.rng.lognormvariate(0.0, 0.6)))
        self._flush([o.slot for o in offers])
        return offers

    def _trainees(self, login: User) -> list[_Person]:
        # The demo trainee: a complete profile, available all year, so both rounds fit.
        people = [
            _Person(
                Trainee(
                    user_id=login.id,
                    name=login.name,
                    email=login.email,
                    level=5,
                    provider=PROVIDERS["Birmingham"][0],
                    skills=[
                        "chain of custody",
                        "ELISA",
                        "immunoassays",
                        "laboratory safety",
                        "pipetting",
                        "sample reception",
                    ],
                    postcode="B23 6QT",
                    latitude=52.52410,
                    longitude=-1.83620,
                    max_travel_km=25.0,
                    available_from=date(2027, 1, 4),
                    available_to=date(2027, 12, 17),
                    dbs_cleared=True,
                    dbs_checked_on=DBS_CHECKED_ON,
                ),
                ("Clinical immunology", "Sample handling"),
            )
        ]
        towns = [(town, town.weight) for town in TOWNS]
        interests = list(DISCIPLINE_INTEREST.items())
        for number in range(1, TRAINEE_COUNT):
            people.append(self._learner(number, _weighted(self.rng, towns), interests))
        self._flush([p.trainee for p in people])
        return people

    def _learner(self, number: int, town: Town, interest_weights: list[tuple[str, int]]) -> _Person:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        local = ".".join("".join(c for c in part.lower() if c.isalnum()) for part in (first, last))
        interests = [_weighted(rng, interest_weights)]
        if rng.random() < 0.6:
            second = _weighted(rng, interest_weights)
            if second not in interests:
                interests.append(second)
        skills: set[str] = set()
        for discipline in interests:
            group = SKILLS_BY_DISCIPLINE[discipline]
            skills.update(rng.sample(group, rng.randint(2, min(4, len(group)))))
        skills.update(rng.sample(GENERAL_SKILLS, rng.randint(0, 2)))
        local_colleges = PROVIDERS[town.area]
        if rng.random() < 0.8:
            provider = rng.choice(local_colleges)
        else:
            provider = rng.choice([p for ps in PROVIDERS.values() for p in ps])
        district = rng.choice(town.districts)
        postcode = (
            f"{district} {rng.randint(1, 9)}"
            f"{rng.choice(_POSTCODE_LETTERS)}{rng.choice(_POSTCODE_LETTERS)}"
        )
        available_from, available_to = _weighted(rng, _AVAILABILITY)
        trainee = Trainee(
            name=f"{first} {last}",
            email=f"{local}.{number}@{LEARNER_EMAIL_DOMAIN}",
            level=4 if rng.random() < 0.55 else 5,
            provider=provider,
            skills=sorted(skills, key=str.lower),
            postcode=postcode,
            # Homes within a couple of kilometres of the town centre.
            latitude=round(town.latitude + rng.uniform(-0.018, 0.018), 5),
            longitude=round(town.longitude + rng.uniform(-0.028, 0.028), 5),
            max_travel_km=float(rng.choice(_TRAVEL_KM)),
            available_from=available_from,
            available_to=available_to,
            dbs_cleared=(cleared := rng.random() < 0.82),
            dbs_checked_on=DBS_CHECKED_ON if cleared else None,
            needs=rng.choice(NEEDS) if rng.random() < 0.07 else "",
        )
        return _Person(trainee, tuple(interests))

    def _appeal(self, person: _Person, offer: _Offer) -> float:
        """How likely a trainee is to rank a slot: nearby, popular, in their line of work.
        Now and then people rank a slot they cannot take, as they do in real rounds."""
        t, s = person.trainee, offer.slot
        assert t.latitude is not None and t.longitude is not None
        assert t.max_travel_km is not None and t.level is not None
        assert t.available_from is not None and t.available_to is not None
        weight = offer.popularity
        if s.remote:
            weight *= 0.4  # most trainees want hands-on work
        else:
            km = distance_km(t.latitude, t.longitude, s.latitude, s.longitude)
            weight *= math.exp(-km / max(8.0, 0.7 * t.max_travel_km))
            if km > t.max_travel_km:
                weight *= 0.1
        weight *= 6.0 if s.discipline in person.interests else 1.0
        wanted = set(s.required_skills)
        weight *= 1.0 + 2.0 * len(wanted & set(t.skills)) / len(wanted)
        if t.level < s.min_level:
            weight *= 0.08
        if s.requires_dbs and not t.dbs_cleared:
            weight *= 0.25
        if not (t.available_from <= s.starts_on and s.ends_on <= t.available_to):
            weight *= 0.3
        return weight

    def _preferences(
        self,
        rnd: Round,
        offers: list[_Offer],
        people: list[_Person],
        *,
        everyone: bool,
        demo_choices: tuple[tuple[str, str], ...],
    ) -> list[Preference]:
        """Ranked lists: a weighted shuffle (Efraimidis-Spirakis keys) of the round's slots.
        In the open round only trainees available then have ranked so far."""
        rng = self.rng
        position_of = {(o.spec.org, o.spec.title): i for i, o in enumerate(offers)}
        rows: list[object] = []
        preferences: list[Preference] = []
        for index, person in enumerate(people):
            t = person.trainee
            assert t.available_to is not None
            if index == 0:
                positions = [position_of[choice] for choice in demo_choices]
            elif everyone or t.available_to >= rnd.ends_on:
                count = rng.randint(3, 10) if everyone else rng.randint(2, 5)
                keyed = sorted(
                    (-(rng.random() ** (1.0 / self._appeal(person, offer))), position)
                    for position, offer in enumerate(offers)
                )
                positions = [position for _, position in keyed[:count]]
            else:
                continue
            rows.append(RoundTrainee(round_id=_id(rnd), trainee_id=_id(t)))
            preferences += [
                Preference(
                    round_id=_id(rnd),
                    trainee_id=_id(t),
                    slot_id=_id(offers[position].slot),
                    rank=rank,
                )
                for rank, position in enumerate(positions[: rnd.max_preferences], start=1)
            ]
        self._flush(rows + preferences)
        return preferences

    def _rankings(
        self, offers: list[_Offer], preferences: list[Preference], people: list[_Person]
    ) -> int:
        """A few employers ranked a shortlist of their applicants: best skills match first,
        then level."""
        by_id = {_id(p.trainee): p.trainee for p in people}
        rows = []
        for offer in offers:
            if (offer.spec.org, offer.spec.title) not in RANKED_SLOTS:
                continue
            slot = offer.slot
            applicants = sorted({p.trainee_id for p in preferences if p.slot_id == slot.id})
            wanted = set(slot.required_skills)

            def score(trainee_id: int, wanted: set[str] = wanted) -> float:
                t = by_id[trainee_id]
                return 2 * len(wanted & set(t.skills)) + (t.level == 5) + self.rng.random()

            scored = sorted((-score(tid), tid) for tid in applicants)
            rows += [
                EmployerRanking(slot_id=_id(slot), trainee_id=tid, rank=rank)
                for rank, (_, tid) in enumerate(scored[:SHORTLIST], start=1)
            ]
        self._flush(rows)
        return len(rows)
