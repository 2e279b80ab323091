"""Every page of every role, at a phone's width (390 px) and a desktop's (1280 px), on the
West Midlands demo with two finished runs: nothing wider than the screen, no control placed
off-screen, and axe (WCAG 2.2 AA included) finds nothing serious.

The pages come from the app's url_map: a new page without a visit here fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from placement import auth, encryption
from placement.db import get_engine, session_scope
from placement.demo import AUTUMN_ROUND, DEMO_LOGINS, SPRING_ROUND, seed_demo
from placement.models import (
    Accreditation,
    EmailLink,
    EmployerRanking,
    Job,
    MatchRun,
    Organisation,
    Placement,
    Preference,
    Proposal,
    Round,
    RoundStatus,
    Slot,
    Trainee,
    User,
    utcnow,
)
from placement.services import approvals, rounds
from placement.services.runs import reading
from placement.services.runs.execution import execute_run
from tests import factories as f
from tests.web.conftest import SCREENSHOTS, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = {390: {"width": 390, "height": 844}, 1280: {"width": 1280, "height": 900}}

# Pages that are not pages: downloads, fragments, polling and form targets.
NOT_PAGES = {
    "web.static",
    "static",
    "healthz",
    "coordinator.placements_csv",
    "coordinator.placements_xlsx",
    "coordinator.instance_file",
    "coordinator.job_progress",
    "coordinator.job_instance",
    "coordinator.import_template",
    "coordinator.run_progress",
    "coordinator.why_part",
    "trainee.data_json",
    "coordinator.round_report_csv",
    "coordinator.evidence",
    "employer.evidence",
}
# Pages the sweep does not visit yet (none: every page is visited below).
NOT_YET_CHECKED: set[str] = set()


@dataclass
class Site:
    ids: dict[str, int]
    logins: dict[str, tuple[str, str]]
    pages: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def _run(settings: Any, session: Session, coordinator: User, round_id: int, **kw: Any) -> int:
    run = reading.start_run(
        session=session, actor=coordinator, round_id=round_id, settings=settings, **kw
    )
    assert run.id is not None
    execute_run(run.id, settings=settings)
    return run.id


def _build(live_server: LiveServer) -> Site:
    settings = live_server.settings
    with session_scope(settings) as session:
        seed_demo(session=session)
    engine = get_engine(settings)
    with Session(engine, expire_on_commit=False) as session:
        spring = session.exec(select(Round).where(Round.name == SPRING_ROUND)).one()
        autumn = session.exec(select(Round).where(Round.name == AUTUMN_ROUND)).one()
        assert spring.id is not None and autumn.id is not None
        coordinator = session.exec(select(User).where(User.email == DEMO_LOGINS[0][1])).one()
        existing = session.exec(
            select(MatchRun.id).where(MatchRun.round_id == spring.id).order_by(col(MatchRun.id))
        ).all()
        if len(existing) >= 2:
            first, second = existing[0], existing[1]
        else:
            if spring.status == RoundStatus.OPEN:
                rounds.transition_round(
                    session=session, actor=coordinator, round_id=spring.id, action="close"
                )
                session.commit()
            first = _run(settings, session, coordinator, spring.id)
            second = _run(settings, session, coordinator, spring.id, weights={"preference": 2.0})
            approvals.approve_all(session=session, actor=coordinator, run_id=second)
            session.commit()
        assert first is not None and second is not None
        proposal = session.exec(
            select(Proposal).where(Proposal.run_id == first).order_by(col(Proposal.id))
        ).first()
        assert proposal is not None
        placement = session.exec(select(Placement).where(Placement.round_id == spring.id)).first()
        assert placement is not None
        employer = session.exec(select(User).where(User.email == DEMO_LOGINS[1][1])).one()
        org = session.exec(select(Organisation).where(Organisation.owner_id == employer.id)).one()
        # The employer's slot with the most applicants ranked.
        slot_id = session.exec(
            select(Slot.id)
            .join(EmployerRanking, col(EmployerRanking.slot_id) == Slot.id)
            .where(Slot.organisation_id == org.id)
            .order_by(col(Slot.id))
        ).first()
        learner = session.exec(select(Trainee).where(Trainee.email == DEMO_LOGINS[2][1])).one()
        pref_slot = session.exec(
            select(Preference.slot_id).where(Preference.trainee_id == learner.id)
        ).first()
        # A closed round without runs: its publish page is reachable.
        spare = session.exec(select(Round).where(Round.name == "Layout spare round")).first()
        if spare is None:
            spare = f.round_(session, name="Layout spare round", status="closed")
            # A published placement at a host with a long web address (the phone's test).
            org.website = "https://www.sowe-valley-wearables.example.co.uk/careers/placements/" + (
                "medtech-industry-placement-programme-2027-west-midlands"
            )
            done = f.round_(session, name="Layout published round", status="published")
            seat = f.slot(session, round=done, organisation=org, title="Published seat")
            session.add(
                Placement(
                    round_id=done.id,
                    trainee_id=learner.id,
                    slot_id=seat.id,
                    offer_status="accepted",
                    offered_at=utcnow(),
                    offer_expires_at=utcnow() + timedelta(days=7),
                    offer_decided_at=utcnow(),
                )
            )
            # An offer still to answer, in another published round.
            offering = f.round_(session, name="Layout offer round", status="published")
            open_seat = f.slot(session, round=offering, organisation=org, title="Offered seat")
            session.add(
                Placement(
                    round_id=offering.id,
                    trainee_id=learner.id,
                    slot_id=open_seat.id,
                    offer_status="offered",
                    offered_at=utcnow(),
                    offer_expires_at=utcnow() + timedelta(days=7),
                )
            )
            session.add(
                Accreditation(
                    organisation_id=f.pk(org),
                    standard="ISO 13485",
                    body="BSI",
                    number="MD 612345",
                    expires_on=date(2030, 1, 31),
                )
            )
            session.commit()
        accepted = session.exec(
            select(Placement.id)
            .join(Slot, col(Slot.id) == col(Placement.slot_id))
            .where(Slot.title == "Published seat")
        ).one()
        offered = session.exec(
            select(Placement.id)
            .join(Slot, col(Slot.id) == col(Placement.slot_id))
            .where(Slot.title == "Offered seat")
        ).one()
        accreditation = session.exec(
            select(Accreditation.id).where(Accreditation.organisation_id == org.id)
        ).first()
        # Single-use links, as the mails carry them: a registration and a password reset.
        verify_token, verify_digest = auth.new_token()
        reset_token, reset_digest = auth.new_token()
        for purpose, digest, extra in (
            ("register", verify_digest, {"email": f"layout-{verify_digest[:8]}@example.test"}),
            ("reset", reset_digest, {"email": employer.email, "user_id": employer.id}),
        ):
            session.add(
                EmailLink(
                    purpose=purpose,
                    token_hash=digest,
                    name="Layout Person",
                    role="trainee" if purpose == "register" else "employer",
                    expires_at=utcnow() + timedelta(hours=1),
                    **extra,
                )
            )
        # An account with two-step sign-in, to reach the code step.
        mfa_email = f"layout-mfa-{verify_digest[:8]}@example.test"
        f.user(
            session,
            email=mfa_email,
            role="employer",
            mfa_secret=encryption.encrypt(settings.encryption_keys, "JBSWY3DPEHPK3PXP"),
            mfa_enabled_at=utcnow(),
        )
        # A finished background import, for its result page.
        job = Job(
            kind="import_trainees",
            owner_id=f.pk(coordinator),
            round_id=autumn.id,
            status="succeeded",
            progress=1.0,
            code=201,
            result={"created": 3, "updated": 1},
            finished_at=utcnow(),
        )
        session.add(job)
        session.commit()
        ids = {
            "spring": spring.id,
            "autumn": autumn.id,
            "spare": f.pk(spare),
            "run": first,
            "run2": second,
            "trainee": proposal.trainee_id,
            "placement": f.pk(placement),
            "slot": slot_id or 0,
            "pref_slot": pref_slot or 0,
            "org": f.pk(org),
            "accepted": accepted,
            "offered": offered,
            "accreditation": accreditation or 0,
            "job": f.pk(job),
        }
    logins = {role: (email, password) for role, email, password in DEMO_LOGINS}
    logins["code step"] = (mfa_email, "factory-password-1")
    site = Site(ids=ids, logins=logins)
    i = ids
    site.pages = {
        "anonymous": [
            ("web.home", "/"),
            ("web.sign_in", "/sign-in"),
            ("web.register", "/register"),
            ("web.check_email", "/check-email"),
            ("web.password_reset", "/password-reset"),
            ("web.password_reset_confirm", f"/password-reset/confirm?token={reset_token}"),
            ("web.resend", "/verify/resend"),
            ("web.verify", f"/verify?token={verify_token}"),
        ],
        # Signed in with a password, asked for the code.
        "code step": [("web.sign_in_code", "/sign-in/code")],
        "coordinator": [
            ("coordinator.dashboard", "/coordinator/"),
            ("coordinator.audit_log", "/coordinator/audit"),
            ("coordinator.organisations", "/coordinator/organisations"),
            ("coordinator.new_round", "/coordinator/rounds/new"),
            ("coordinator.round_page", f"/coordinator/rounds/{i['spring']}"),
            ("coordinator.round_page", f"/coordinator/rounds/{i['autumn']}"),
            ("coordinator.transition", f"/coordinator/rounds/{i['autumn']}/close"),
            ("coordinator.transition", f"/coordinator/rounds/{i['spring']}/publish"),
            ("coordinator.transition", f"/coordinator/rounds/{i['spare']}/publish"),
            (
                "coordinator.compare",
                f"/coordinator/rounds/{i['spring']}/compare?run={i['run']}&run={i['run2']}",
            ),
            ("coordinator.import_page", f"/coordinator/rounds/{i['autumn']}/import/trainees"),
            ("coordinator.import_page", f"/coordinator/rounds/{i['autumn']}/import/slots"),
            ("coordinator.round_placements", f"/coordinator/rounds/{i['spring']}/placements"),
            ("coordinator.new_run", f"/coordinator/rounds/{i['spring']}/runs/new"),
            ("coordinator.round_trainees", f"/coordinator/rounds/{i['spring']}/trainees"),
            ("coordinator.run_page", f"/coordinator/runs/{i['run']}"),
            ("coordinator.approve_all", f"/coordinator/runs/{i['run']}/approve-all"),
            ("coordinator.why", f"/coordinator/runs/{i['run']}/trainees/{i['trainee']}/why"),
            ("coordinator.withdraw", f"/coordinator/placements/{i['placement']}/withdraw"),
            ("coordinator.erase", f"/coordinator/trainees/{i['trainee']}/erase"),
            (
                "coordinator.trainee_record",
                f"/coordinator/trainees/{i['trainee']}?round={i['spring']}",
            ),
            ("coordinator.dbs", f"/coordinator/trainees/{i['trainee']}/dbs"),
            ("coordinator.host", f"/coordinator/organisations/{i['org']}"),
            ("coordinator.round_report", f"/coordinator/rounds/{i['spring']}/report"),
            ("coordinator.safety", f"/coordinator/placements/{i['accepted']}/safety"),
            ("coordinator.seat_values", f"/coordinator/runs/{i['run']}/seat-values"),
            ("coordinator.job_page", f"/coordinator/jobs/{i['job']}"),
            ("notifications_page.index", "/notifications"),
            ("web.account", "/account"),
            ("web.account_mfa", "/account/mfa"),
        ],
        "employer": [
            ("employer.organisation", "/employer/organisation"),
            ("employer.slots", "/employer/slots"),
            ("employer.placements", "/employer/placements"),
            ("employer.slot_form", "/employer/slots/new"),
            ("employer.slot_form", f"/employer/slots/{i['slot']}/edit"),
            ("employer.applicants", f"/employer/slots/{i['slot']}/applicants"),
            ("employer.delete_slot", f"/employer/slots/{i['slot']}/delete"),
            ("employer.accreditation_form", "/employer/accreditations/new"),
            (
                "employer.accreditation_form",
                f"/employer/accreditations/{i['accreditation']}/edit",
            ),
            (
                "employer.delete_accreditation",
                f"/employer/accreditations/{i['accreditation']}/delete",
            ),
            ("employer.safety", f"/employer/placements/{i['accepted']}/safety"),
            ("notifications_page.index", "/notifications"),
        ],
        "trainee": [
            ("trainee.profile", "/trainee/profile"),
            ("trainee.browse", "/trainee/slots"),
            ("trainee.slot_page", f"/trainee/slots/{i['pref_slot']}"),
            ("trainee.choices", "/trainee/choices"),
            ("trainee.placements", "/trainee/placement"),
            ("trainee.data", "/trainee/data"),
            ("trainee.decline_offer", f"/trainee/placement/{i['offered']}/decline"),
            ("trainee.safety", f"/trainee/placement/{i['accepted']}/safety"),
            ("notifications_page.index", "/notifications"),
            ("web.account", "/account"),
        ],
    }
    return site


@pytest.fixture(scope="module")
def site(live_server: LiveServer) -> Iterator[Site]:
    yield _build(live_server)


def test_every_page_is_visited(live_server: LiveServer, site: Site) -> None:
    from flask import current_app  # noqa: F401  (the app is built by the live server)

    from placement import create_app

    app = create_app(live_server.settings)
    visited = {endpoint for pages in site.pages.values() for endpoint, _ in pages}
    missing = sorted(
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods
        and not rule.rule.startswith("/api")
        and rule.endpoint not in NOT_PAGES
        and rule.endpoint not in NOT_YET_CHECKED
        and rule.endpoint not in visited
    )
    assert not missing, f"pages without a layout check: {missing}"


# Layout problems, measured in the page.
_PROBLEMS = """() => {
  const width = window.innerWidth;
  const overflow = document.scrollingElement.scrollWidth - width;
  const offscreen = Array.from(document.querySelectorAll('a, button, input, select, textarea'))
    .filter(el => {
      const r = el.getBoundingClientRect();
      const s = getComputedStyle(el);
      if (r.width <= 1 || r.height <= 1 || s.visibility === 'hidden' || s.display === 'none') {
        return false;
      }
      if (el.type === 'hidden') return false;
      return r.right > width + 1 || r.left < -1;
    })
    .slice(0, 5)
    .map(el => el.tagName.toLowerCase() + ' "' + (el.textContent || el.name || '').trim()
         .slice(0, 30) + '" right=' + Math.round(el.getBoundingClientRect().right));
  return {overflow, offscreen};
}"""


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("role", ["anonymous", "code step", "coordinator", "employer", "trainee"])
def test_every_page_fits_the_screen(
    browser: Any,
    live_server: LiveServer,
    site: Site,
    check_a11y: Any,
    role: str,
    width: int,
) -> None:
    ctx = browser.new_context(base_url=live_server.url, viewport=WIDTHS[width], locale="en-GB")
    ctx.set_default_timeout(30_000)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    problems: list[str] = []
    try:
        if role != "anonymous":
            email, password = site.logins[role]
            page.goto("/sign-in")
            page.get_by_label("Email address").fill(email)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            if role == "code step":
                assert page.url.endswith("/sign-in/code"), page.url
            else:
                assert "/sign-in" not in page.url
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for _endpoint, path in site.pages[role]:
            response = page.goto(path)
            assert response is not None
            if response.status != 200:
                problems.append(f"{path}: status {response.status}")
                continue
            found = page.evaluate(_PROBLEMS)
            if found["overflow"] > 0:
                problems.append(f"{path}: {found['overflow']}px wider than {width}px")
            if found["offscreen"]:
                problems.append(f"{path}: controls off-screen: {found['offscreen']}")
            try:
                check_a11y(page, path)
            except AssertionError as exc:
                problems.append(f"{path} at {width}px: {exc}")
            page.screenshot(
                path=str(SCREENSHOTS / f"layout-{role}-{_slug(path)}-{width}.png"),
                full_page=True,
            )
    finally:
        ctx.close()
    assert not errors, f"JavaScript errors: {errors}"
    assert not problems, "\n".join(problems)
