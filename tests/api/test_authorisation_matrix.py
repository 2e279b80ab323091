"""Every route of API.md x every kind of caller, against the status API.md implies.

Columns: anonymous, trainee A, trainee B, employer X, employer Y, coordinator. The world
(tests/api/conftest.py) gives X and Y a verified organisation each, A and B a profile and
preferences, and a closed round with a run, proposals and a placement. Each cell runs in
its own savepoint, so a cell that changes something does not affect the next.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, update
from sqlalchemy.engine import Connection
from sqlmodel import Session

from placement.models import Accreditation, MatchRun, Notification, Proposal, RunExplanation
from placement.services.accounts import register, request_password_reset
from placement.services.instances import build_instance
from placement.services.runs import pack_instance
from tests.accounts_support import last_token
from tests.api.conftest import PASSWORD, ROLES, World, build_world, slot_body

API = "/api/v1"
Ids = dict[str, int]


@dataclass(frozen=True)
class Cell:
    name: str
    method: str
    path: Callable[[Ids], str]
    expected: tuple[int, int, int, int, int, int]  # in ROLES order
    body: Callable[[World], dict[str, Any]] | None = None
    files: Callable[[World], dict[str, Any]] | None = None
    setup: Callable[[Session, World], None] | None = None  # once, before the six calls


def _(template: str) -> Callable[[Ids], str]:
    return lambda ids: API + template.format(**ids)


def _store_run_instance(session: Session, w: World) -> None:
    """Give the world's run the instance it would have stored when it ran."""
    packed, sha256 = pack_instance(build_instance(session=session, round_id=w.ids["closed"]))
    session.execute(
        update(MatchRun)
        .where(MatchRun.id == w.ids["run"])  # type: ignore[arg-type]
        .values(instance_gz=packed, instance_sha256=sha256)
    )
    session.flush()


def _accreditation(session: Session, w: World) -> None:
    """A record of host X's to change, remove or upload evidence for."""
    record = Accreditation(organisation_id=w.ids["org_x"], standard="ISO 15189", body="UKAS")
    session.add(record)
    session.flush()
    assert record.id is not None
    w.ids["accreditation_x"] = record.id


def _notify_trainee_a(session: Session, w: World) -> None:
    user = w.users["trainee_a"]
    note = Notification(user_id=user.id, kind="results_placed", subject="Placed", body="Yes.")
    session.add(note)
    session.flush()
    assert note.id is not None
    w.ids["notification_a"] = note.id


def _registration_link(session: Session, w: World) -> None:
    register(session=session, email="linked@example.test", name="Linked", role="employer")
    w.tokens["verify_link"] = last_token(session, "linked@example.test")


def _reset_link(session: Session, w: World) -> None:
    email = w.users["trainee_b"].email
    request_password_reset(session=session, email=email)
    w.tokens["reset_link"] = last_token(session, email, "password_reset")


def _store_explanation(session: Session, w: World) -> None:
    """What the worker stores for trainee A (placed at their 2nd choice) and says B, who
    was not part of the run, is not found."""
    session.execute(delete(Proposal).where(Proposal.trainee_id == w.ids["trainee_b"]))  # type: ignore[arg-type]
    session.add(
        RunExplanation(
            run_id=w.ids["run"],
            trainee_id=w.ids["trainee_a"],
            body={
                "outcome": "placed",
                "slot_id": w.ids["closed_slot_x"],
                "rank": 2,
                "choices": [
                    {
                        "slot_id": w.ids["closed_slot_y"],
                        "rank": 1,
                        "outcome": "ineligible",
                        "rule": "dbs",
                    }
                ],
                "counterfactual": None,
            },
        )
    )
    session.execute(
        update(MatchRun)
        .where(MatchRun.id == w.ids["run"])  # type: ignore[arg-type]
        .values(stats={"explain_seconds": 0.01})
    )
    session.flush()


def _csv(text: str) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"file": (io.BytesIO(text.encode()), "import.csv")}


EVERYONE = (401, 200, 200, 200, 200, 200)
COORDINATOR = (401, 403, 403, 403, 403, 200)
TRAINEES = (401, 200, 200, 403, 403, 403)

MATRIX = [
    # accounts
    Cell(
        "register",
        "POST",
        _("/auth/register"),
        (202,) * 6,
        body=lambda w: {"email": "fresh@example.test", "name": "Fresh", "role": "trainee"},
    ),
    Cell(
        "verify",
        "POST",
        _("/auth/verify"),
        (200,) * 6,
        body=lambda w: {"token": w.tokens["verify_link"], "password": "a-long-pass-phrase"},
        setup=_registration_link,
    ),
    Cell(
        "login",
        "POST",
        _("/auth/login"),
        (200,) * 6,
        body=lambda w: {"email": w.users["trainee_a"].email, "password": PASSWORD},
    ),
    Cell("logout", "POST", _("/auth/logout"), (401, 204, 204, 204, 204, 204)),
    Cell("logout everywhere", "POST", _("/auth/logout-everywhere"), (401, 204, 204, 204, 204, 204)),
    Cell(
        "password reset",
        "POST",
        _("/auth/password-reset"),
        (202,) * 6,
        body=lambda w: {"email": w.users["trainee_b"].email},
    ),
    Cell(
        "password reset confirm",
        "POST",
        _("/auth/password-reset/confirm"),
        (200,) * 6,
        body=lambda w: {"token": w.tokens["reset_link"], "password": "a-long-pass-phrase"},
        setup=_reset_link,
    ),
    Cell(
        "change password",
        "POST",
        _("/me/password"),
        EVERYONE,
        body=lambda w: {"current_password": PASSWORD, "new_password": "brand-new-pass-1"},
    ),
    Cell("start mfa", "POST", _("/me/mfa"), (401, 201, 201, 201, 201, 201)),
    Cell(
        "confirm mfa (nothing pending)",
        "POST",
        _("/me/mfa/confirm"),
        (401, 409, 409, 409, 409, 409),
        body=lambda w: {"code": "123456"},
    ),
    Cell(
        "disable mfa (not on)",
        "POST",
        _("/me/mfa/disable"),
        (401, 409, 409, 409, 409, 409),
        body=lambda w: {"code": "123456"},
    ),
    Cell(
        "invite round trainees",
        "POST",
        _("/rounds/{round}/invitations"),
        (401, 403, 403, 403, 403, 202),
    ),
    Cell("me", "GET", _("/me"), EVERYONE),
    # organisations
    Cell(
        "create organisation",
        "POST",
        _("/organisations"),
        (401, 403, 403, 409, 409, 201),
        body=lambda w: {"name": "New Host", "kind": "clinical_lab"},
    ),
    Cell("list organisations", "GET", _("/organisations"), EVERYONE),
    Cell("get organisation X", "GET", _("/organisations/{org_x}"), (401, 200, 200, 200, 404, 200)),
    Cell(
        "get unverified organisation",
        "GET",
        _("/organisations/{org_u}"),
        (401, 404, 404, 404, 404, 200),
    ),
    Cell(
        "patch organisation X",
        "PATCH",
        _("/organisations/{org_x}"),
        (401, 403, 403, 200, 404, 200),
        body=lambda w: {"website": "https://x.example"},
    ),
    Cell("verify organisation", "POST", _("/organisations/{org_u}/verify"), COORDINATOR),
    # rounds
    Cell(
        "create round",
        "POST",
        _("/rounds"),
        (401, 403, 403, 403, 403, 201),
        body=lambda w: {"name": "Spring", "starts_on": "2027-01-04", "ends_on": "2027-07-02"},
    ),
    Cell("list rounds", "GET", _("/rounds"), EVERYONE),
    Cell("get open round", "GET", _("/rounds/{round}"), EVERYONE),
    Cell("get draft round", "GET", _("/rounds/{draft}"), (401, 404, 404, 404, 404, 200)),
    Cell("open round", "POST", _("/rounds/{draft}/open"), COORDINATOR),
    Cell("close round", "POST", _("/rounds/{round}/close"), COORDINATOR),
    Cell("publish round", "POST", _("/rounds/{closed}/publish"), COORDINATOR),
    # slots
    Cell(
        "create slot for X",
        "POST",
        _("/rounds/{round}/slots"),
        (401, 403, 403, 201, 403, 201),
        body=lambda w: slot_body(organisation_id=w.ids["org_x"]),
    ),
    Cell("list slots", "GET", _("/rounds/{round}/slots"), EVERYONE),
    Cell("get slot", "GET", _("/slots/{slot_x}"), EVERYONE),
    Cell(
        "patch slot",
        "PATCH",
        _("/slots/{slot_x}"),
        (401, 403, 403, 200, 404, 200),
        body=lambda w: {"capacity": 3},
    ),
    Cell("delete slot", "DELETE", _("/slots/{slot_x}"), (401, 403, 403, 204, 404, 204)),
    Cell("applicants", "GET", _("/slots/{slot_x}/applicants"), (401, 403, 403, 200, 404, 200)),
    Cell("get rankings", "GET", _("/slots/{slot_x}/rankings"), (401, 403, 403, 200, 404, 200)),
    Cell(
        "rank applicants",
        "PUT",
        _("/slots/{slot_x}/rankings"),
        (401, 403, 403, 200, 404, 403),
        body=lambda w: {"trainee_ids": [w.ids["trainee_a"]]},
    ),
    # preferences
    Cell(
        "set preferences",
        "PUT",
        _("/rounds/{round}/preferences"),
        TRAINEES,
        body=lambda w: {"slot_ids": [w.ids["slot_y"], w.ids["slot_x"]]},
    ),
    Cell("get preferences", "GET", _("/rounds/{round}/preferences"), TRAINEES),
    # trainees
    Cell("own profile", "GET", _("/trainees/me"), TRAINEES),
    Cell(
        "update own profile",
        "PUT",
        _("/trainees/me"),
        TRAINEES,
        body=lambda w: {"needs": "step-free access", "max_travel_km": 25},
    ),
    Cell("export own data", "GET", _("/trainees/me/export"), TRAINEES),
    Cell("list trainees", "GET", _("/trainees"), COORDINATOR),
    Cell(
        "create trainee",
        "POST",
        _("/trainees"),
        (401, 403, 403, 403, 403, 201),
        body=lambda w: {"name": "Imported Ivy", "email": "ivy@learners.test", "level": 5},
    ),
    Cell("get trainee", "GET", _("/trainees/{trainee_a}"), COORDINATOR),
    Cell(
        "patch trainee",
        "PATCH",
        _("/trainees/{trainee_a}"),
        COORDINATOR,
        body=lambda w: {"level": 5},
    ),
    Cell("erase trainee", "DELETE", _("/trainees/{trainee_a}"), (401, 403, 403, 403, 403, 204)),
    # runs and proposals
    Cell(
        "start run",
        "POST",
        _("/rounds/{closed}/runs"),
        (401, 403, 403, 403, 403, 202),
        body=lambda w: {"allow_unranked": False},
    ),
    Cell("list runs", "GET", _("/rounds/{closed}/runs"), COORDINATOR),
    Cell("get run", "GET", _("/runs/{run}"), COORDINATOR),
    Cell("proposals", "GET", _("/runs/{run}/proposals"), COORDINATOR),
    Cell("unplaced", "GET", _("/runs/{run}/unplaced"), COORDINATOR),
    Cell(
        "run instance",
        "GET",
        _("/runs/{run}/instance"),
        COORDINATOR,
        setup=_store_run_instance,
    ),
    Cell(
        "run instance, none stored",
        "GET",
        _("/runs/{run}/instance"),
        (401, 403, 403, 403, 403, 404),
    ),
    Cell("approve", "POST", _("/proposals/{proposal_a}/approve"), COORDINATOR),
    Cell(
        "reject",
        "POST",
        _("/proposals/{proposal_a}/reject"),
        COORDINATOR,
        body=lambda w: {"reason": "prefers a later start"},
    ),
    Cell("approve all", "POST", _("/runs/{run}/approve-all"), COORDINATOR),
    Cell("seat values", "GET", _("/runs/{run}/seat-values"), COORDINATOR),
    Cell(
        "explanation",
        "GET",
        _("/runs/{run}/explanations/{trainee_a}"),
        COORDINATOR,
        setup=_store_explanation,
    ),
    Cell(
        "explanation of someone not in the run",
        "GET",
        _("/runs/{run}/explanations/{trainee_b}"),
        (401, 403, 403, 403, 403, 404),
        setup=_store_explanation,
    ),
    # Trainees only; before publish 409, after publish 404 when no run included them.
    Cell(
        "outcome before publish",
        "GET",
        _("/rounds/{closed}/outcome"),
        (401, 409, 409, 403, 403, 403),
    ),
    Cell(
        "outcome, no run", "GET", _("/rounds/{published}/outcome"), (401, 404, 404, 403, 403, 403)
    ),
    Cell("instance", "GET", _("/rounds/{closed}/instance"), COORDINATOR),
    # placements
    Cell(
        "placements before publication",
        "GET",
        _("/rounds/{closed}/placements"),
        (401, 409, 409, 409, 409, 200),
    ),
    Cell("placements after publication", "GET", _("/rounds/{published}/placements"), EVERYONE),
    Cell("placements csv", "GET", _("/rounds/{closed}/placements.csv"), COORDINATOR),
    Cell("placements xlsx", "GET", _("/rounds/{closed}/placements.xlsx"), COORDINATOR),
    # background jobs: only their owner sees one (here nobody's: 404 for every caller)
    Cell("job", "GET", _("/jobs/999999"), (401, 404, 404, 404, 404, 404)),
    Cell("withdraw placement", "DELETE", _("/placements/{placement}"), COORDINATOR),
    # offers: only the placed trainee answers; another trainee is told it does not exist
    Cell(
        "accept offer",
        "POST",
        _("/placements/{published_placement}/accept"),
        (401, 200, 404, 403, 403, 403),
    ),
    Cell(
        "decline offer",
        "POST",
        _("/placements/{published_placement}/decline"),
        (401, 200, 404, 403, 403, 403),
        body=lambda w: {"reason": "I found another placement."},
    ),
    Cell("round report", "GET", _("/rounds/{published}/report"), COORDINATOR),
    Cell("round report csv", "GET", _("/rounds/{published}/report.csv"), COORDINATOR),
    # import and audit
    Cell(
        "import trainees",
        "POST",
        _("/rounds/{round}/import/trainees"),
        (401, 403, 403, 403, 403, 201),
        files=_csv("name,email\nIvy,ivy@learners.test\n"),
    ),
    Cell(
        "import slots",
        "POST",
        _("/rounds/{round}/import/slots"),
        (401, 403, 403, 403, 403, 201),
        files=lambda w: {
            "file": (
                io.BytesIO(
                    f"organisation_id,title,starts_on,ends_on\n{w.ids['org_x']},Lab,2027-02-01,"
                    "2027-03-01\n".encode()
                ),
                "slots.csv",
            )
        },
    ),
    Cell("audit", "GET", _("/audit"), COORDINATOR),
    # vetting and safeguarding
    Cell(
        "list accreditations",
        "GET",
        _("/organisations/{org_x}/accreditations"),
        (401, 403, 403, 200, 404, 200),
    ),
    Cell(
        "add accreditation",
        "POST",
        _("/organisations/{org_x}/accreditations"),
        (401, 403, 403, 201, 404, 201),
        body=lambda w: {"standard": "ISO 13485", "body": "BSI", "number": "MD 1"},
    ),
    Cell(
        "change accreditation",
        "PATCH",
        _("/accreditations/{accreditation_x}"),
        (401, 403, 403, 200, 404, 200),
        body=lambda w: {"number": "0042"},
        setup=_accreditation,
    ),
    Cell(
        "remove accreditation",
        "DELETE",
        _("/accreditations/{accreditation_x}"),
        (401, 403, 403, 204, 404, 204),
        setup=_accreditation,
    ),
    Cell(
        "upload evidence",
        "PUT",
        _("/accreditations/{accreditation_x}/evidence"),
        (401, 403, 403, 200, 404, 200),
        files=lambda w: {"file": (io.BytesIO(b"%PDF-1.7\n%%EOF\n"), "certificate.pdf")},
        setup=_accreditation,
    ),
    Cell(
        "evidence, none uploaded",
        "GET",
        _("/accreditations/{accreditation_x}/evidence"),
        (401, 403, 403, 404, 404, 404),
        setup=_accreditation,
    ),
    Cell("verifications", "GET", _("/organisations/{org_x}/verifications"), COORDINATOR),
    Cell(
        "record DBS check",
        "POST",
        _("/trainees/{trainee_a}/dbs-check"),
        (401, 403, 403, 403, 403, 201),
        body=lambda w: {
            "certificate_number": "001234567890",
            "level": "enhanced",
            "issued_on": "2026-01-15",
        },
    ),
    Cell("DBS checks", "GET", _("/trainees/{trainee_a}/dbs-checks"), COORDINATOR),
    Cell("own DBS status", "GET", _("/trainees/me/dbs"), TRAINEES),
    Cell(
        "safety details",  # the trainee sees them once the offer is accepted
        "GET",
        _("/placements/{published_placement}/safety"),
        (401, 404, 404, 200, 404, 200),
    ),
    Cell(
        "fill in safety details",
        "PUT",
        _("/placements/{published_placement}/safety"),
        (401, 403, 403, 200, 404, 200),
        body=lambda w: {"supervisor_name": "Sam Supervisor"},
    ),
    Cell(
        "sign off incomplete safety details",
        "POST",
        _("/placements/{published_placement}/safety/sign-off"),
        (401, 403, 403, 403, 403, 409),
    ),
    # notifications
    Cell("my notifications", "GET", _("/me/notifications"), EVERYONE),
    Cell(
        "mark notification read",
        "POST",
        _("/me/notifications/{notification_a}/read"),
        (401, 200, 404, 404, 404, 404),
        setup=_notify_trainee_a,
    ),
]


def test_matrix_covers_every_route(app: Any) -> None:
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API + "/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    normalised = {(m, _pattern(r)) for m, r in routes if not r.endswith("openapi.json")}
    covered = {(c.method, _pattern(c.path({k: 1 for k in _KEYS}))) for c in MATRIX}
    assert normalised - covered == set()


_KEYS = (
    "trainee_a",
    "trainee_b",
    "org_x",
    "org_y",
    "org_u",
    "round",
    "draft",
    "closed",
    "published",
    "slot_x",
    "slot_y",
    "closed_slot_x",
    "closed_slot_y",
    "run",
    "proposal_a",
    "proposal_b",
    "placement",
    "published_placement",
    "accreditation_x",
    "notification_a",
)


def _pattern(path: str) -> str:
    import re

    return re.sub(r"<[^>]+>|/\d+(?=/|$)", "/*", path).replace("//", "/")


@pytest.mark.parametrize("cell", MATRIX, ids=[c.name for c in MATRIX])
def test_matrix(cell: Cell, client: FlaskClient, connection: Connection, session: Any) -> None:
    world = build_world(session)
    if cell.setup is not None:
        cell.setup(session, world)
    got: dict[str, int] = {}
    for role in ROLES:
        savepoint = connection.begin_nested()
        try:
            kwargs: dict[str, Any] = {}
            if cell.body is not None:
                kwargs["json"] = cell.body(world)
            if cell.files is not None:
                kwargs["data"] = cell.files(world)
                kwargs["content_type"] = "multipart/form-data"
            response = client.open(
                cell.path(world.ids), method=cell.method, headers=world.headers(role), **kwargs
            )
            got[role] = response.status_code
            if response.status_code >= 400:
                assert response.is_json and response.get_json().get("message"), (
                    role,
                    response.data[:200],
                )
        finally:
            savepoint.rollback()
    expected = dict(zip(ROLES, cell.expected, strict=True))
    assert got == expected
