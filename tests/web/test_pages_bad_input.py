"""Malformed input on the server-rendered pages, for every role: never a 500.

Each probe asserts that the page answered below 500, that it says what was wrong (an
error page, or the form again with the field's message) and, where it matters, that
nothing was stored. Runs on both databases, like the rest of the page tests.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlmodel import Session, func, select

from placement.config import Settings
from placement.models import (
    EmailLink,
    MatchRun,
    Organisation,
    Placement,
    Preference,
    Proposal,
    Round,
    Slot,
    Trainee,
    User,
)
from placement.services.users import create_user
from tests import factories as f
from tests.conftest import Backend
from tests.web.helpers import PASSWORD, client_sign_in, csrf_token

HUGE = str(10**30)
LONG = "x" * 100_000
MAX_UPLOAD = 1_000_000
NUL = "%00"
SURROGATE = "%ED%A0%80"  # a lone surrogate, UTF-8 encoded: not valid UTF-8
NOT_UTF8 = "%FF%FE"

# Ids that name nothing: not numbers, not positive, or too big for any id column.
BAD_PATH_IDS = ["0", "-1", "abc", "1.5", HUGE, str(2**31), str(2**63), NUL, SURROGATE]
# A query-string page number that is not one.
BAD_PAGES = ["abc", "-1", "0", HUGE, str(2**63), "1e309", "nan", NUL, SURROGATE, NOT_UTF8]


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    # Many sign-ins from one address in a test: the login limit is tested elsewhere.
    return Settings.from_env(
        {
            "DATABASE_URL": backend.url,
            "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key",
            "PLACEMENT_LOGIN_RATE_LIMIT": "1000 per minute",
            "PLACEMENT_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        }
    )


@dataclass
class Signed:
    """A signed-in test client and what it needs to post forms."""

    client: Any
    user: User
    token: str

    def get(self, url: str) -> Any:
        return self.client.get(url)

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kw)

    def post_raw(self, url: str, body: str) -> Any:
        """A urlencoded body written by hand: repeated fields, bytes that are not UTF-8."""
        return self.client.post(
            url,
            data=f"csrf_token={quote(self.token)}&{body}".encode(),
            content_type="application/x-www-form-urlencoded",
        )


def _sign_in(client: Any, session: Session, role: str) -> Signed:
    user = client_sign_in(client, session, role, f"{role}-bad-input@example.test")
    return Signed(client, user, csrf_token(_page(client)))


def _page(client: Any) -> str:
    # Every signed-in page carries the sign-out form, and with it the CSRF token.
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200, response.text
    text: str = response.text
    return text


def _ok(response: Any, *expected: str, status: int | tuple[int, ...] | None = None) -> str:
    """The answer is not a 5xx, has the expected status and says what was wrong."""
    assert response.status_code < 500, response.text[:2000]
    if status is not None:
        wanted = status if isinstance(status, tuple) else (status,)
        assert response.status_code in wanted, (response.status_code, response.text[:2000])
    text: str = response.text
    for snippet in expected:
        assert snippet in text, (snippet, text[:3000])
    return text


def _count(session: Session, model: Any) -> int:
    session.expire_all()
    return int(session.exec(select(func.count()).select_from(model)).one())


# --- a small world: two rounds, hosts, slots, trainees, runs and a placement ---------


@dataclass
class World:
    open_round: Round
    closed_round: Round
    draft_round: Round
    org: Organisation
    other_org: Organisation
    slot: Slot
    other_slot: Slot
    draft_slot: Slot
    closed_slot: Slot
    trainee: Trainee
    run: MatchRun
    other_run: MatchRun
    proposal: Proposal
    other_proposal: Proposal
    placement: Placement


def _run(session: Session, rnd: Round, user_id: int | None) -> MatchRun:
    run = MatchRun(
        round_id=rnd.id,
        status="succeeded",
        phase="done",
        progress=100,
        weights={"preference": 1, "employer": 0, "skills": 0, "distance": 0},
        stats={"placed": 1, "unplaced": 0},
        created_by=user_id,
    )
    session.add(run)
    session.flush()
    return run


def _proposal(session: Session, run: MatchRun, trainee: Trainee, slot: Slot) -> Proposal:
    proposal = Proposal(
        run_id=run.id,
        trainee_id=trainee.id,
        slot_id=slot.id,
        rank=1,
        cost=1.0,
        terms={"preference": 1.0, "employer": 0, "skills": 0, "distance": 0},
    )
    session.add(proposal)
    session.flush()
    return proposal


def _world(session: Session, owner: User | None = None) -> World:
    open_round = f.round_(session, name="Open round", status="open")
    closed_round = f.round_(session, name="Closed round", status="closed")
    draft_round = f.round_(session, name="Draft round", status="draft")
    org = f.organisation(session, name="Our Labs", owner_id=owner.id if owner else None)
    other_org = f.organisation(session, name="Their Labs")
    slot = f.slot(session, round=open_round, organisation=org, title="Microbiology")
    other_slot = f.slot(session, round=open_round, organisation=other_org, title="Theirs")
    draft_slot = f.slot(session, round=draft_round, organisation=other_org, title="Drafty")
    closed_slot = f.slot(session, round=closed_round, organisation=org, title="Closed one")
    trainee = f.trainee(session, name="Amara Osei")
    f.preference(session, trainee=trainee, slot=slot, rank=1)
    f.preference(session, trainee=trainee, slot=closed_slot, rank=1)
    run = _run(session, closed_round, None)
    other_run = _run(session, open_round, None)
    proposal = _proposal(session, run, trainee, closed_slot)
    other_proposal = _proposal(session, other_run, trainee, slot)
    placed = f.trainee(session, name="Ben Carter")
    placement = Placement(round_id=closed_round.id, trainee_id=placed.id, slot_id=closed_slot.id)
    session.add(placement)
    session.flush()
    return World(
        open_round,
        closed_round,
        draft_round,
        org,
        other_org,
        slot,
        other_slot,
        draft_slot,
        closed_slot,
        trainee,
        run,
        other_run,
        proposal,
        other_proposal,
        placement,
    )


@pytest.fixture
def coordinator(client: Any, session: Session) -> Signed:
    return _sign_in(client, session, "coordinator")


@pytest.fixture
def trainee(client: Any, session: Session) -> Signed:
    signed = _sign_in(client, session, "trainee")
    me = session.exec(select(Trainee).where(Trainee.user_id == signed.user.id)).one()
    for key, value in {
        "level": 4,
        "latitude": 52.4862,
        "longitude": -1.8904,
        "max_travel_km": 40.0,
    }.items():
        setattr(me, key, value)
    me.available_from = date(2027, 1, 4)
    me.available_to = date(2027, 7, 2)
    session.flush()
    return signed


@pytest.fixture
def employer(client: Any, session: Session) -> Signed:
    return _sign_in(client, session, "employer")


@pytest.fixture
def world(session: Session) -> World:
    return _world(session)


# --- ids in the path: anything but a real id is a 404 page -------------------------

COORDINATOR_ID_PAGES = [
    "/coordinator/rounds/{id}",
    "/coordinator/rounds/{id}/open",
    "/coordinator/rounds/{id}/import/trainees",
    "/coordinator/rounds/{id}/runs/new",
    "/coordinator/rounds/{id}/compare?run=1&run=2",
    "/coordinator/rounds/{id}/placements.csv",
    "/coordinator/rounds/{id}/placements",
    "/coordinator/rounds/{id}/report",
    "/coordinator/rounds/{id}/report.csv",
    "/coordinator/rounds/{id}/trainees",
    "/coordinator/runs/{id}",
    "/coordinator/runs/{id}/progress.json",
    "/coordinator/runs/{id}/seat-values",
    "/coordinator/runs/{id}/trainees/{trainee}/why",
    "/coordinator/runs/{run}/trainees/{id}/why",
    "/coordinator/runs/{run}/trainees/{id}/why.part",
    "/coordinator/placements/{id}/withdraw",
    "/coordinator/trainees/{id}/erase",
]
COORDINATOR_ID_FORMS = [
    "/coordinator/rounds/{id}/close",
    "/coordinator/organisations/{id}/verify",
    "/coordinator/rounds/{id}/import/slots",
    "/coordinator/rounds/{id}/runs/new",
    "/coordinator/rounds/{id}/runs/both",
    "/coordinator/proposals/{id}/approve",
    "/coordinator/proposals/{id}/reject",
    "/coordinator/runs/{id}/approve-all",
    "/coordinator/placements/{id}/withdraw",
    "/coordinator/trainees/{id}/erase",
]
NO_SUCH_IDS = [*BAD_PATH_IDS, str(2**31 - 1)]


@pytest.mark.parametrize("bad", NO_SUCH_IDS)
def test_coordinator_pages_answer_404_for_ids_that_name_nothing(
    coordinator: Signed, world: World, bad: str
) -> None:
    fill = {"run": world.run.id, "trainee": world.trainee.id, "id": bad}
    for template in COORDINATOR_ID_PAGES:
        _ok(coordinator.get(template.format(**fill)), "Page not found", status=404)
    for template in COORDINATOR_ID_FORMS:
        _ok(coordinator.post(template.format(**fill)), "Page not found", status=404)


@pytest.mark.parametrize("bad", NO_SUCH_IDS)
def test_trainee_and_employer_pages_answer_404_for_ids_that_name_nothing(
    client: Any, session: Session, bad: str
) -> None:
    trainee = _sign_in(client, session, "trainee")
    _ok(trainee.get(f"/trainee/slots/{bad}"), "Page not found", status=404)
    _ok(trainee.get(f"/trainee/placement/{bad}/decline"), "Page not found", status=404)
    for action in ("accept", "decline"):
        url = f"/trainee/placement/{bad}/{action}"
        _ok(trainee.post(url), "Page not found", status=404)
    client.post("/sign-out", data={"csrf_token": trainee.token})
    employer = _sign_in(client, session, "employer")
    _world(session, owner=employer.user)
    for action in ("edit", "applicants", "delete"):
        url = f"/employer/slots/{bad}/{action}"
        _ok(employer.get(url), "Page not found", status=404)
        _ok(employer.post(url), "Page not found", status=404)


def test_anonymous_visitors_are_sent_to_sign_in_whatever_the_id(client: Any) -> None:
    for url in ("/coordinator/runs/1", "/trainee/slots/1", "/employer/slots/1/edit"):
        response = client.get(url)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    for bad in (HUGE, NUL, "-1"):
        assert client.get(f"/coordinator/runs/{bad}").status_code in (302, 404)
        assert client.get(f"/trainee/slots/{bad}").status_code in (302, 404)
    refused = client.post("/sign-out")
    _ok(refused, "expired or was not sent from this site", status=400)


# --- page numbers ------------------------------------------------------------------


@pytest.mark.parametrize("page", BAD_PAGES)
def test_coordinator_lists_take_any_page_number_without_a_500(
    coordinator: Signed, world: World, page: str
) -> None:
    for url in (
        "/coordinator/organisations",
        "/coordinator/audit",
        f"/coordinator/rounds/{world.closed_round.id}/placements",
        f"/coordinator/rounds/{world.closed_round.id}/trainees",
        f"/coordinator/runs/{world.run.id}",
    ):
        response = coordinator.get(f"{url}?page={page}")
        if page in ("-1", "0"):
            _ok(response, status=200)  # read as the first page
        else:
            _ok(response, "Page not found", status=404)
    # The last page there could be is just empty.
    _ok(coordinator.get(f"/coordinator/audit?page={2**31 - 1}"), "Audit log", status=200)


# --- text in query strings: search boxes and filters --------------------------------


@pytest.mark.parametrize("value", [NUL, f"a{NUL}b", SURROGATE, NOT_UTF8, quote(LONG)])
def test_coordinator_search_boxes_refuse_or_ignore_bad_text(
    coordinator: Signed, world: World, value: str
) -> None:
    nul = NUL in value
    trainees = coordinator.get(f"/coordinator/rounds/{world.closed_round.id}/trainees?q={value}")
    audit = coordinator.get(f"/coordinator/audit?action={value}")
    if nul:
        _ok(trainees, "must not contain NUL characters", status=422)
        _ok(audit, "must not contain NUL characters", status=422)
    else:
        _ok(trainees, "Trainees in", status=200)
        _ok(audit, "Audit log", status=200)
    for name in ("trainee", "slot"):
        run = coordinator.get(f"/coordinator/runs/{world.run.id}?{name}={value}")
        if nul:
            _ok(run, f'id="{name}-error"', "must not contain NUL characters", status=422)
        elif value.startswith("x"):
            _ok(run, f'id="{name}-error"', "at most 100 characters", status=422)
        else:
            _ok(run, "No proposals match the filters", status=200)
    for name in ("rank", "status"):
        run = coordinator.get(f"/coordinator/runs/{world.run.id}?{name}={value}")
        _ok(run, f'id="{name}-error"', status=422)
    placements = coordinator.get(
        f"/coordinator/rounds/{world.closed_round.id}/placements?status={value}"
    )
    _ok(placements, "Page not found", status=404)


@pytest.mark.parametrize(
    "query, field",
    [
        (f"round={bad}", "round")
        for bad in ("abc", "-1", "0", "1.5", HUGE, "nan", "inf", "1e309", NUL, SURROGATE)
    ]
    + [
        (f"within_km={bad}", "within_km")
        for bad in ("abc", "-1", "nan", "inf", "-inf", "1e309", NUL, SURROGATE, quote(LONG))
    ]
    + [(f"kind={bad}", "kind") for bad in ("castle", NUL, SURROGATE, quote(LONG))]
    + [(f"discipline={bad}", "discipline") for bad in (NUL, f"a{NUL}")],
)
def test_trainee_slot_filters_say_what_is_wrong(
    trainee: Signed, world: World, query: str, field: str
) -> None:
    response = trainee.get(f"/trainee/slots?{query}")
    _ok(response, f'id="{field}-error"', "0 placements found.", status=422)


@pytest.mark.parametrize(
    "query", ["discipline=" + quote(LONG), f"discipline={SURROGATE}", f"within_km={HUGE}"]
)
def test_trainee_slot_filters_that_match_nothing_are_fine(
    trainee: Signed, world: World, query: str
) -> None:
    response = trainee.get(f"/trainee/slots?{query}")
    _ok(response, "Find placements", status=200)


# --- signing in and registering -------------------------------------------------------


def _anonymous_token(client: Any) -> str:
    return csrf_token(client.get("/sign-in").text)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "email=&password=",
        f"email=a{NUL}@example.test&password=whatever-it-is",
        f"email={NUL}&password={NUL}",
        f"email={SURROGATE}&password={SURROGATE}",
        f"email={NOT_UTF8}%40example.test&password={NOT_UTF8}",
        f"email={quote(LONG)}&password={quote(LONG)}",
        "email=a@example.test&email=b@example.test&password=x&password=y",
    ],
)
def test_sign_in_with_malformed_credentials_is_refused_politely(
    client: Any, session: Session, body: str
) -> None:
    response = client.post(
        "/sign-in",
        data=f"csrf_token={quote(_anonymous_token(client))}&{body}".encode(),
        content_type="application/x-www-form-urlencoded",
    )
    _ok(response, "Invalid email or password.", status=401)


@pytest.mark.parametrize(
    "next_url",
    [NUL, f"/trainee/profile{NUL}", "/%0D%0ASet-Cookie:%20x=1", quote("/" + LONG), SURROGATE],
)
def test_sign_in_with_a_strange_next_address_lands_somewhere_safe(
    client: Any, session: Session, next_url: str
) -> None:
    create_user(
        session=session, email="next@example.test", name="Next", role="trainee", password=PASSWORD
    )
    response = client.post(
        f"/sign-in?next={next_url}",
        data={
            "email": "next@example.test",
            "password": PASSWORD,
            "csrf_token": _anonymous_token(client),
        },
    )
    _ok(response, status=302)
    location = response.headers["Location"]
    assert "\r" not in location and "\n" not in location and "\x00" not in location


@pytest.mark.parametrize(
    "body, field",
    [
        ("name=&email=new@example.test&role=trainee", "name"),
        (f"name=A{NUL}B&email=new@example.test&role=trainee", "name"),
        (f"name={quote(LONG)}&email=new@example.test&role=trainee", "name"),
        (f"name=Ann&email=new{NUL}@example.test&role=trainee", "email"),
        (f"name=Ann&email={quote(LONG)}%40example.test&role=trainee", "email"),
        ("name=Ann&email=new@example.test", "role"),
        (f"name=Ann&email=new@example.test&role=trainee{NUL}", "role"),
        ("name=Ann&email=new@example.test&role=coordinator", "role"),
        ("name=Ann&email=n\u0435w@example.test&role=trainee", "email"),
        ("name=Ann&email=ne%E2%80%8Bw@example.test&role=trainee", "email"),
    ],
)
def test_register_says_which_field_is_wrong_and_stores_nothing(
    client: Any, session: Session, body: str, field: str
) -> None:
    users = _count(session, User)
    response = client.post(
        "/register",
        data=f"csrf_token={quote(_anonymous_token(client))}&{body}".encode(),
        content_type="application/x-www-form-urlencoded",
    )
    _ok(response, f'id="{field}-error"', status=(403, 422))
    assert _count(session, User) == users
    assert _count(session, EmailLink) == 0


def test_register_with_repeated_and_undecodable_fields_does_not_fail(
    client: Any, session: Session
) -> None:
    body = (
        f"name=Ann{NOT_UTF8}&name=Bea&email=ann@example.test&email=bea@example.test"
        "&role=trainee&role=coordinator"
    )
    response = client.post(
        "/register",
        data=f"csrf_token={quote(_anonymous_token(client))}&{body}".encode(),
        content_type="application/x-www-form-urlencoded",
    )
    # The first of each repeated field counts; escapes that are not UTF-8 stay as sent.
    _ok(response, status=302)
    assert response.headers["Location"].endswith("/check-email")
    session.expire_all()
    link = session.exec(select(EmailLink).where(EmailLink.email == "ann@example.test")).one()
    assert link.role == "trainee" and link.name == f"Ann{NOT_UTF8}"


# --- the trainee's profile and choices ------------------------------------------------

PROFILE_PROBES = [
    ("name", ""),
    ("name", f"A{NUL}B"),
    ("name", quote(LONG)),
    ("level", "6"),
    ("level", HUGE),
    ("level", "4.0"),
    ("level", NUL),
    ("provider", NUL),
    ("provider", quote(LONG)),
    ("skills", quote(LONG)),
    ("skills", f"pipetting,{NUL}"),
    ("skills", ",".join(f"skill{i}" for i in range(101))),
    ("postcode", quote(LONG)),
    ("postcode", f"B1{NUL}"),
    ("postcode", "B1"),  # not a full postcode
    ("postcode", "ZE99ZZ"),  # well formed, but nowhere known
    ("max_travel_km", "nan"),
    ("max_travel_km", "inf"),
    ("max_travel_km", "1e309"),
    ("max_travel_km", "0"),
    ("max_travel_km", "-5"),
    ("max_travel_km", HUGE),
    ("available_from", "2027-02-30"),
    ("available_from", "99999-01-01"),
    ("available_from", "0000-01-01"),
    ("available_from", "tomorrow"),
    ("available_from", NUL),
    ("available_to", "2027-13-01"),
    ("available_to", "2026-01-01"),  # before available_from
    ("needs", quote("n" * 2001)),
    ("needs", NUL),
]


@pytest.mark.parametrize("field, value", PROFILE_PROBES)
def test_trainee_profile_shows_the_fields_error_and_keeps_the_profile(
    trainee: Signed, session: Session, field: str, value: str
) -> None:
    values = {
        "name": "Amara Osei",
        "level": "4",
        "latitude": "52.48",
        "longitude": "-1.89",
        "max_travel_km": "40",
        "available_from": "2027-01-04",
        "available_to": "2027-07-02",
    }
    values[field] = value
    body = "&".join(f"{k}={v}" for k, v in values.items())
    response = trainee.post_raw("/trainee/profile", body)
    _ok(response, f'id="{field}-error"', "There is a problem", status=422)
    session.expire_all()
    me = session.exec(select(Trainee).where(Trainee.user_id == trainee.user.id)).one()
    assert me.name == "trainee person" and me.latitude == 52.4862


def test_trainee_profile_with_nothing_posted_says_the_name_is_required(
    trainee: Signed,
) -> None:
    _ok(trainee.post("/trainee/profile"), 'id="name-error"', "There is a problem", status=422)


def test_trainee_profile_with_repeated_and_undecodable_fields_saves_the_first(
    trainee: Signed, session: Session
) -> None:
    body = f"name=Ann{NOT_UTF8}&name=Bea&level=5&level=4&max_travel_km=25&max_travel_km=nan"
    _ok(trainee.post_raw("/trainee/profile", body), status=302)
    session.expire_all()
    me = session.exec(select(Trainee).where(Trainee.user_id == trainee.user.id)).one()
    assert (me.name, me.level, me.max_travel_km) == (f"Ann{NOT_UTF8}", 5, 25.0)


@pytest.mark.parametrize("bad", ["", "abc", "-1", "0", "1.5", HUGE, str(2**31), NUL, SURROGATE])
def test_adding_a_choice_that_is_no_slot_is_a_404(
    trainee: Signed, world: World, session: Session, bad: str
) -> None:
    before = _count(session, Preference)
    _ok(trainee.post_raw("/trainee/choices/add", f"slot_id={bad}"), "Page not found", status=404)
    _ok(trainee.post("/trainee/choices/add"), "Page not found", status=404)
    assert _count(session, Preference) == before


def test_adding_a_choice_in_a_draft_or_closed_round_is_refused(
    trainee: Signed, world: World, session: Session
) -> None:
    before = _count(session, Preference)
    draft = trainee.post("/trainee/choices/add", {"slot_id": world.draft_slot.id})
    _ok(draft, "No such slot.", status=404)
    closed = trainee.post("/trainee/choices/add", {"slot_id": world.closed_slot.id})
    _ok(closed, "while the round is closed", status=409)
    assert _count(session, Preference) == before


@pytest.mark.parametrize("bad", ["abc", "-1", "0", HUGE, NUL, SURROGATE, quote(LONG)])
def test_choices_of_a_round_that_is_not_there_is_a_404(
    trainee: Signed, world: World, bad: str
) -> None:
    _ok(trainee.get(f"/trainee/choices?round={bad}"), "Page not found", status=404)
    _ok(trainee.get(f"/trainee/choices?round={world.draft_round.id}"), status=404)


@pytest.mark.parametrize(
    "ids, status, message",
    [
        (["abc"], 404, "Page not found"),
        ([HUGE], 404, "Page not found"),
        ([str(2**31)], 404, "Page not found"),
        (["-1"], 404, "Page not found"),
        ([NUL], 404, "Page not found"),
        (["{other}", "{other}"], 422, "must not repeat a slot"),
        (["{closed}"], 422, "not slots of this round"),
        ([str(2**31 - 1)], 422, "not slots of this round"),
        ([str(i) for i in range(1, 1001)], 422, "At most 10 slots"),
    ],
)
def test_saving_choices_that_are_not_slots_of_the_round_is_refused(
    trainee: Signed, world: World, session: Session, ids: list[str], status: int, message: str
) -> None:
    before = _count(session, Preference)
    fill = {"other": world.other_slot.id, "closed": world.closed_slot.id}
    body = "&".join(f"slot_ids={i.format(**fill)}" for i in ids)
    response = trainee.post_raw(f"/trainee/choices?round={world.open_round.id}", body)
    _ok(response, message, status=status)
    assert _count(session, Preference) == before


@pytest.mark.parametrize("move", [f"up:{HUGE}", "down:abc", f"remove:{NUL}", NUL, quote(LONG)])
def test_a_move_button_with_nonsense_changes_nothing(
    trainee: Signed, world: World, move: str
) -> None:
    body = f"slot_ids={world.slot.id}&slot_ids={world.other_slot.id}&move={move}"
    response = trainee.post_raw(f"/trainee/choices?round={world.open_round.id}", body)
    _ok(response, "Theirs", status=200)


# --- the employer's organisation, slots and applicants --------------------------------

ORG_PROBES = [
    ("name", ""),
    ("name", f"Labs{NUL}"),
    ("name", quote(LONG)),
    ("kind", "castle"),
    ("kind", NUL),
    ("kind", ""),
    ("accreditations", quote(LONG)),
    ("accreditations", f"ISO{NUL}"),
    ("postcode", quote(LONG)),
    ("website", quote(LONG)),
    ("website", f"https://x.test/{NUL}"),
]


@pytest.mark.parametrize("field, value", ORG_PROBES)
def test_employer_organisation_form_shows_the_fields_error_and_stores_nothing(
    employer: Signed, session: Session, field: str, value: str
) -> None:
    values = {"name": "Solihull Device Works", "kind": "manufacturer", "latitude": "52.41"}
    values[field] = value
    before = _count(session, Organisation)
    response = employer.post_raw(
        "/employer/organisation", "&".join(f"{k}={v}" for k, v in values.items())
    )
    _ok(response, f'id="{field}-error"', "There is a problem", status=422)
    assert _count(session, Organisation) == before


SLOT_PROBES = [
    ("title", ""),
    ("title", f"Lab{NUL}"),
    ("title", quote(LONG)),
    ("discipline", quote(LONG)),
    ("description", quote("d" * 10_001)),
    ("description", NUL),
    ("required_skills", quote(LONG)),
    ("min_level", "6"),
    ("min_level", HUGE),
    ("min_level", NUL),
    ("capacity", "0"),
    ("capacity", "-1"),
    ("capacity", "1.5"),
    ("capacity", "nan"),
    ("capacity", HUGE),
    ("capacity", "101"),
    ("postcode", quote(LONG)),
    ("postcode", "B1"),
    ("postcode", "ZE99ZZ"),
    ("starts_on", "2027-02-30"),
    ("starts_on", "99999-01-01"),
    ("starts_on", ""),
    ("starts_on", NUL),
    ("ends_on", "2027-01-01"),  # before starts_on
    ("round_id", "abc"),
    ("round_id", HUGE),
    ("round_id", NUL),
    ("round_id", "{closed}"),
    ("round_id", "{draft}"),
]


@pytest.mark.parametrize("field, value", SLOT_PROBES)
def test_employer_slot_form_shows_the_fields_error_and_stores_nothing(
    employer: Signed, session: Session, field: str, value: str
) -> None:
    world = _world(session, owner=employer.user)
    values = {
        "round_id": str(world.open_round.id),
        "title": "Sterilisation",
        "min_level": "4",
        "capacity": "2",
        "starts_on": "2027-02-01",
        "ends_on": "2027-05-28",
    }
    values[field] = value.format(closed=world.closed_round.id, draft=world.draft_round.id)
    body = "&".join(f"{k}={v}" for k, v in values.items())
    before = _count(session, Slot)
    _ok(employer.post_raw("/employer/slots/new", body), f'id="{field}-error"', status=422)
    if field != "round_id":
        edit = employer.post_raw(f"/employer/slots/{world.slot.id}/edit", body)
        _ok(edit, f'id="{field}-error"', status=422)
    assert _count(session, Slot) == before
    session.expire_all()
    assert session.get(Slot, world.slot.id).title == "Microbiology"  # type: ignore[union-attr]


@pytest.mark.parametrize("query", [f"round={NUL}", f"round={HUGE}", "round=" + quote(LONG)])
def test_employer_new_slot_page_ignores_a_strange_round_in_the_address(
    employer: Signed, session: Session, query: str
) -> None:
    _world(session, owner=employer.user)
    _ok(employer.get(f"/employer/slots/new?{query}"), "Post a slot", status=200)


def test_employer_cannot_open_or_change_another_hosts_slot(
    employer: Signed, session: Session
) -> None:
    world = _world(session, owner=employer.user)
    theirs = world.other_slot.id
    for action in ("edit", "delete"):
        _ok(employer.get(f"/employer/slots/{theirs}/{action}"), "Page not found", status=404)
        _ok(employer.post(f"/employer/slots/{theirs}/{action}"), "Page not found", status=404)
    for response in (
        employer.get(f"/employer/slots/{theirs}/applicants"),
        employer.post(f"/employer/slots/{theirs}/applicants", {"trainee_ids": "1"}),
    ):
        _ok(response, status=(403, 404))
    session.expire_all()
    assert session.get(Slot, theirs) is not None


@pytest.mark.parametrize(
    "ids, status, message",
    [
        (["abc"], 404, "Page not found"),
        ([HUGE], 404, "Page not found"),
        (["-1"], 404, "Page not found"),
        ([NUL], 404, "Page not found"),
        (["{applicant}", "{applicant}"], 422, "must not repeat a trainee"),
        ([str(2**31 - 1)], 422, "not applicants"),
    ],
)
def test_employer_ranking_of_non_applicants_is_refused(
    employer: Signed, session: Session, ids: list[str], status: int, message: str
) -> None:
    from placement.models import EmployerRanking

    world = _world(session, owner=employer.user)
    body = "&".join(f"trainee_ids={i.format(applicant=world.trainee.id)}" for i in ids)
    response = employer.post_raw(f"/employer/slots/{world.slot.id}/applicants", body)
    _ok(response, message, status=status)
    assert _count(session, EmployerRanking) == 0


def test_employer_pages_without_an_organisation_send_them_to_make_one(
    employer: Signed, session: Session
) -> None:
    _world(session)
    response = employer.post("/employer/slots/new", {"title": NUL})
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/employer/organisation"
    )


# --- the coordinator's forms -----------------------------------------------------------

ROUND_PROBES = [
    ("name", ""),
    ("name", f"Spring{NUL}"),
    ("name", quote(LONG)),
    ("region", quote(LONG)),
    ("region", NUL),
    ("starts_on", ""),
    ("starts_on", "2027-02-30"),
    ("starts_on", "99999-01-01"),
    ("starts_on", "2027-1-1x"),
    ("starts_on", NUL),
    ("ends_on", "2026-01-01"),  # before starts_on
    ("ends_on", quote(LONG)),
    ("preference_deadline", "2027-02-29"),
    ("preference_deadline", "nan"),
    ("max_preferences", "0"),
    ("max_preferences", "-1"),
    ("max_preferences", "51"),
    ("max_preferences", "1.5"),
    ("max_preferences", "nan"),
    ("max_preferences", "1e309"),
    ("max_preferences", HUGE),
    ("max_preferences", NUL),
]


@pytest.mark.parametrize("field, value", ROUND_PROBES)
def test_round_form_shows_the_fields_error_and_stores_nothing(
    coordinator: Signed, session: Session, field: str, value: str
) -> None:
    values = {
        "name": "Spring",
        "starts_on": "2027-01-04",
        "ends_on": "2027-07-02",
        "max_preferences": "10",
    }
    values[field] = value
    before = _count(session, Round)
    body = "&".join(f"{k}={v}" for k, v in values.items())
    response = coordinator.post_raw("/coordinator/rounds/new", body)
    _ok(response, f'id="{field}-error"', status=422)
    assert _count(session, Round) == before


def test_round_form_with_nothing_posted_names_the_required_fields(
    coordinator: Signed, session: Session
) -> None:
    response = coordinator.post("/coordinator/rounds/new")
    _ok(response, 'id="name-error"', 'id="starts_on-error"', 'id="ends_on-error"', status=422)


def test_round_transitions_in_the_wrong_state_are_409_pages(
    coordinator: Signed, world: World, session: Session
) -> None:
    _ok(
        coordinator.post(f"/coordinator/rounds/{world.closed_round.id}/close"),
        "That cannot be done now",
        status=409,
    )
    _ok(
        coordinator.post(f"/coordinator/rounds/{world.draft_round.id}/publish"),
        "That cannot be done now",
        status=409,
    )
    session.expire_all()
    assert session.get(Round, world.draft_round.id).status == "draft"  # type: ignore[union-attr]


# --- CSV imports -------------------------------------------------------------------------

TRAINEE_HEADER = "name,email,level,latitude,longitude,available_from"
SLOT_HEADER = "organisation_id,title,starts_on,ends_on,capacity"


def _upload(content: bytes, filename: str = "upload.csv") -> Any:
    return (io.BytesIO(content), filename)


# Files that cannot be read as a table of the right columns: refused at either step.
CSV_FILE_PROBES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "the file is empty"),
    ("blank lines", b"\n\n  \r\n", "the file is empty"),
    ("not UTF-8", TRAINEE_HEADER.encode() + b"\nAnn\xff\xfe,a@b.test\n", "not UTF-8 text"),
    ("UTF-16", TRAINEE_HEADER.encode("utf-16"), "not UTF-8 text"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "not UTF-8"),
    ("10,000 columns", ",".join(f"c{i}" for i in range(10_000)).encode(), "unknown column"),
    (
        "a row of 10,000 cells",
        b"name,email\n" + b",".join([b"x"] * 10_000) + b"\n",
        "has 10000 cells but the header has 2",
    ),
    ("header without name", b"email\na@b.test\n", "required column is missing"),
    ("repeated column", b"name,email,email\nAnn,a@b.test,a@b.test\n", "column appears twice"),
    ("NUL in the header", b"name,email,\x00\nAnn,a@b.test,x\n", "unknown column"),
]
# Files that read as a table but whose values are bad: the preview shows the rows, the
# import refuses them all.
CSV_VALUE_PROBES: list[tuple[str, bytes, str]] = [
    ("NUL cells", b"name,email\nAnn\x00,a\x00@b.test\n", "must not contain NUL characters"),
    ("long cell", b"name,email\n" + b"n" * 100_000 + b",a@b.test\n", "Length must be between"),
    (
        "bad values",
        (
            TRAINEE_HEADER + "\nAnn,a@b.test,6,nan,1e309,2027-02-30\n"
            f"Bea,b@b.test,{HUGE},inf,-inf,99999-01-01\n"
        ).encode(),
        "problem(s) in 2 row(s)",
    ),
    ("huge id", f"id,name,email\n{HUGE},Ann,a@b.test\n".encode(), "no such trainee"),
    ("id beyond any row", f"id,name,email\n{2**31},Ann,a@b.test\n".encode(), "no such trainee"),
    ("negative id", b"id,name,email\n-1,Ann,a@b.test\n", "no such trainee"),
    (
        "bad preferences",
        f"name,email,preferences\nAnn,a@b.test,{HUGE};-1;x\x00\n".encode(),
        "is not a slot id or title in this round",
    ),
    (
        "digits that are no id in preferences",
        ("name,email,preferences\nAnn,a@b.test,\u00b2;" + "1" * 5000 + "\n").encode(),
        "is not a slot id or title in this round",
    ),
]


@pytest.mark.parametrize(
    "label, content, message", CSV_FILE_PROBES, ids=[p[0] for p in CSV_FILE_PROBES]
)
@pytest.mark.parametrize("step", ["preview", "import"])
def test_trainee_import_of_an_unreadable_file_says_what_is_wrong_and_imports_nothing(
    coordinator: Signed,
    world: World,
    session: Session,
    label: str,
    content: bytes,
    message: str,
    step: str,
) -> None:
    before = _count(session, Trainee)
    url = f"/coordinator/rounds/{world.open_round.id}/import/trainees"
    response = coordinator.post(url, {"file": _upload(content), "step": step})
    _ok(response, message, status=422)
    assert _count(session, Trainee) == before


@pytest.mark.parametrize(
    "label, content, message", CSV_VALUE_PROBES, ids=[p[0] for p in CSV_VALUE_PROBES]
)
def test_trainee_import_of_bad_values_is_refused_at_preview_and_imports_nothing(
    coordinator: Signed,
    world: World,
    session: Session,
    label: str,
    content: bytes,
    message: str,
) -> None:
    before = _count(session, Trainee)
    url = f"/coordinator/rounds/{world.open_round.id}/import/trainees"
    # The preview checks every value as the import would: the problems show before "Import".
    preview = coordinator.post(url, {"file": _upload(content), "step": "preview"})
    _ok(preview, message, status=422)
    assert 'value="import"' not in preview.text  # no Import button for a bad file
    assert _count(session, Trainee) == before
    response = coordinator.post(url, {"file": _upload(content), "step": "import"})
    _ok(response, "nothing was imported", message, status=422)
    assert _count(session, Trainee) == before


@pytest.mark.parametrize(
    "content, message",
    [
        (f"{SLOT_HEADER}\n{HUGE},Lab,2027-02-01,2027-05-28,1\n", "organisation_id"),
        (f"{SLOT_HEADER}\n-1,Lab,2027-02-01,2027-05-28,1\n", "organisation_id"),
        (f"{SLOT_HEADER}\n2147483647,Lab,2027-02-30,99999-01-01,{HUGE}\n", "problem"),
        (f"id,round_id,{SLOT_HEADER}\n{HUGE},{HUGE},1,Lab,2027-02-01,2027-05-28,1\n", "problem"),
        (f"id,{SLOT_HEADER}\n2147483647,{{org}},Lab,2027-02-01,2027-05-28,1\n", "no such slot"),
        (f"{SLOT_HEADER},latitude\n{{org}},Lab,2027-02-01,2027-05-28,nan,nan\n", "capacity"),
    ],
)
def test_slot_import_of_bad_ids_and_values_says_what_is_wrong(
    coordinator: Signed, world: World, session: Session, content: str, message: str
) -> None:
    before = _count(session, Slot)
    url = f"/coordinator/rounds/{world.open_round.id}/import/slots"
    data = content.replace("{org}", str(world.org.id)).encode()
    _ok(coordinator.post(url, {"file": _upload(data), "step": "preview"}), message, status=422)
    response = coordinator.post(url, {"file": _upload(data), "step": "import"})
    _ok(response, "nothing was imported", message, status=422)
    assert _count(session, Slot) == before


def test_an_upload_over_the_size_limit_is_a_413_page(
    coordinator: Signed, world: World, session: Session
) -> None:
    before = _count(session, Trainee)
    content = quote(TRAINEE_HEADER + "\n" + "Ann,a@b.test\n" * (MAX_UPLOAD // 10))
    url = f"/coordinator/rounds/{world.open_round.id}/import/trainees"
    response = coordinator.post_raw(url, f"step=import&csv_text={content}")
    _ok(response, "File too large", status=413)
    assert _count(session, Trainee) == before


@pytest.mark.parametrize("kind", ["trainees", "slots"])
def test_import_of_only_a_header_previews_nothing_and_imports_nothing(
    coordinator: Signed, world: World, session: Session, kind: str
) -> None:
    model = Trainee if kind == "trainees" else Slot
    before = _count(session, model)
    header = TRAINEE_HEADER if kind == "trainees" else SLOT_HEADER
    url = f"/coordinator/rounds/{world.open_round.id}/import/{kind}"
    preview = coordinator.post(url, {"file": _upload(header.encode() + b"\n"), "step": "preview"})
    _ok(preview, "0 rows read", status=200)
    imported = coordinator.post(
        url, {"csv_text": header + "\n", "step": "import"}, follow_redirects=True
    )
    _ok(imported, f"Imported {kind}: 0 created, 0 updated.", status=200)
    assert _count(session, model) == before


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"step": "import"},
        {"csv_text": "   "},
        {"file": "no file chosen"},
        {"csv_text": "name,email\nAnn\x00,a@b.test", "step": "import"},
        {"csv_text": LONG, "step": "preview"},
        {"csv_text": "name,email\nAnn,a@b.test", "step": NUL},
    ],
)
def test_import_forms_without_a_usable_file_say_so(
    coordinator: Signed, world: World, session: Session, data: dict[str, Any]
) -> None:
    before = _count(session, Trainee)
    url = f"/coordinator/rounds/{world.open_round.id}/import/trainees"
    if "file" in data:  # what a browser sends when no file was chosen
        data = {**data, "file": _upload(b"", "")}
    response = coordinator.post(url, data)
    assert response.status_code < 500
    if not data.get("csv_text", "").strip():
        _ok(response, "Choose a CSV file to import.", status=422)
    else:
        assert response.status_code in (200, 422)
    assert _count(session, Trainee) == before


def test_import_into_a_round_in_the_wrong_state_is_a_409(
    coordinator: Signed, world: World, session: Session
) -> None:
    url = f"/coordinator/rounds/{world.closed_round.id}/import/slots"
    data = f"{SLOT_HEADER}\n{world.org.id},Lab,2027-02-01,2027-05-28,1\n"
    response = coordinator.post(url, {"csv_text": data, "step": "import"})
    _ok(response, "Cannot import slots while the round is closed", status=409)


# --- match runs, proposals and placements ---------------------------------------------

WEIGHT_PROBES = [
    ("preference", "nan"),
    ("preference", "inf"),
    ("employer", "-inf"),
    ("employer", "1e309"),
    ("skills", "-1"),
    ("skills", HUGE),
    ("distance", "1000001"),
    ("distance", "abc"),
    ("distance", NUL),
    ("preference", quote(LONG)),
]


@pytest.mark.parametrize("field, value", WEIGHT_PROBES)
def test_run_form_shows_the_weights_error_and_starts_nothing(
    coordinator: Signed, world: World, session: Session, field: str, value: str
) -> None:
    values = {"preference": "1", "employer": "0.5", "skills": "2", "distance": "0.1"}
    values[field] = value
    body = "&".join(f"{k}={v}" for k, v in values.items()) + f"&allow_unranked={NUL}"
    before = _count(session, MatchRun)
    response = coordinator.post_raw(f"/coordinator/rounds/{world.closed_round.id}/runs/new", body)
    _ok(response, f'id="{field}-error"', "There is a problem", status=422)
    assert _count(session, MatchRun) == before


def test_a_run_for_a_round_that_is_not_closed_is_a_409(
    coordinator: Signed, world: World, session: Session
) -> None:
    before = _count(session, MatchRun)
    response = coordinator.post(f"/coordinator/rounds/{world.open_round.id}/runs/new")
    _ok(response, "A run needs a closed round", status=409)
    assert _count(session, MatchRun) == before


@pytest.mark.parametrize(
    "reason",
    [f"Too far{NUL}", NUL, quote(LONG), "y" * 1000, SURROGATE, NOT_UTF8],
)
def test_rejecting_with_a_strange_reason_never_fails(
    coordinator: Signed, world: World, session: Session, reason: str
) -> None:
    url = f"/coordinator/proposals/{world.proposal.id}/reject"
    response = coordinator.post_raw(url, f"reason={reason}&next=/coordinator/runs/{world.run.id}")
    _ok(response, status=(302, 422))
    session.expire_all()
    proposal = session.get(Proposal, world.proposal.id)
    assert proposal is not None
    if "%00" in reason:
        _ok(response, "reason", "must not contain NUL characters", status=422)
        assert proposal.status == "proposed"
    elif reason == quote(LONG):
        # One limit, the service's (the API's too): the page shows its error.
        _ok(response, "reason", "must be at most 1000 characters", status=422)
        assert proposal.status == "proposed"
    else:
        assert proposal.status == "rejected" and 0 < len(proposal.reason or "") <= 1000


@pytest.mark.parametrize(
    "next_url",
    [
        NUL,
        "/coordinator/runs/1%0D%0ASet-Cookie:%20x=1",
        "/coordinator/runs/1%00",
        "/coordinator/runs/" + quote(LONG),
        "https://evil.test/coordinator/runs/1",
        "/coordinator/runs/..//evil.test",
    ],
)
def test_proposal_buttons_with_a_strange_next_address_go_somewhere_safe(
    coordinator: Signed, world: World, next_url: str
) -> None:
    url = f"/coordinator/proposals/{world.proposal.id}/approve"
    response = coordinator.post_raw(url, f"next={next_url}")
    _ok(response, status=302)
    location = response.headers["Location"]
    assert "\r" not in location and "\n" not in location and "\x00" not in location
    assert location.startswith("/coordinator/")


def test_deciding_proposals_of_an_open_round_is_a_409(
    coordinator: Signed, world: World, session: Session
) -> None:
    for action in ("approve", "reject"):
        response = coordinator.post(f"/coordinator/proposals/{world.other_proposal.id}/{action}")
        _ok(response, "That cannot be done now", status=409)
    _ok(
        coordinator.post(f"/coordinator/runs/{world.other_run.id}/approve-all"),
        "That cannot be done now",
        status=409,
    )
    assert _count(session, Placement) == 1


@pytest.mark.parametrize(
    "query",
    [
        "",
        "run=1",
        "run={a}&run={a}&run={a}",
        "run=abc&run=def",
        "run=%C2%B2&run=%C2%B3",  # superscript two and three: str.isdigit() says yes
        f"run={HUGE}&run={HUGE}",
        f"run={2**31}&run={2**31}",
        "run=" + "1" * 5000 + "&run=1",
        "run=2147483647&run=2147483646",
        f"run={NUL}&run={NUL}",
        "run=-1&run=-2",
        "run={a}&run={other}",  # a run of another round
    ],
)
def test_comparing_runs_that_cannot_be_compared_says_so(
    coordinator: Signed, world: World, session: Session, query: str
) -> None:
    second = _run(session, world.closed_round, None)
    url = f"/coordinator/rounds/{world.closed_round.id}/compare?" + query.format(
        a=world.run.id, b=second.id, other=world.other_run.id
    )
    response = coordinator.get(url)
    if response.status_code == 302:
        page = coordinator.get(response.headers["Location"])
        _ok(page, "Tick exactly two finished runs to compare them.", status=200)
    else:
        _ok(response, "Page not found", status=404)
    compared = coordinator.get(
        f"/coordinator/rounds/{world.closed_round.id}/compare?run={world.run.id}&run={second.id}"
    )
    _ok(compared, "compared", status=200)


def test_why_a_trainee_of_another_run_or_round_is_a_404(
    coordinator: Signed, world: World, session: Session
) -> None:
    stranger = f.trainee(session, name="Not In Any Run")
    for run_id, trainee_id in ((world.run.id, stranger.id), (world.other_run.id, stranger.id)):
        for suffix in ("why", "why.part"):
            response = coordinator.get(f"/coordinator/runs/{run_id}/trainees/{trainee_id}/{suffix}")
            _ok(response, status=(404, 409))
    queued = MatchRun(round_id=world.closed_round.id, status="queued", phase="queued")
    session.add(queued)
    session.flush()
    response = coordinator.get(f"/coordinator/runs/{queued.id}/trainees/{world.trainee.id}/why")
    _ok(response, "nothing to explain yet", status=409)


def test_withdrawing_twice_or_a_placement_that_is_not_there(
    coordinator: Signed, world: World, session: Session
) -> None:
    url = f"/coordinator/placements/{world.placement.id}/withdraw"
    _ok(coordinator.post(url), status=302)
    _ok(coordinator.post(url), "already withdrawn", status=409)


@pytest.mark.parametrize(
    "round_arg", ["%C2%B2", "abc", "-1", HUGE, NUL, SURROGATE, quote(LONG), "{closed}"]
)
def test_erasure_with_a_strange_round_in_the_address_still_works(
    coordinator: Signed, world: World, session: Session, round_arg: str
) -> None:
    arg = round_arg.format(closed=world.closed_round.id)
    url = f"/coordinator/trainees/{world.trainee.id}/erase?round={arg}"
    _ok(coordinator.get(url), "personal data?", status=200)
    response = coordinator.post(url)
    _ok(response, status=302)
    session.expire_all()
    assert session.get(Trainee, world.trainee.id).erased_at is not None  # type: ignore[union-attr]
