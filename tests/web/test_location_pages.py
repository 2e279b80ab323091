"""Pages say when a location is only the district of an unknown postcode."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from placement.db import session_scope
from placement.models import Trainee, User
from placement.services import postcodes
from tests import factories as f
from tests.web.conftest import LiveServer
from tests.web.helpers import account, sign_in, sign_out

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APPROXIMATE = "Location approximate: we found the area (B10) but not the full postcode B10 9ZZ"


def test_an_approximate_location_is_named_on_profile_record_and_host_pages(
    page: Any, live_server: LiveServer, check_a11y: Any
) -> None:
    learner = account(live_server.settings, "trainee", profile=True)
    sign_in(page, learner)
    page.goto("/trainee/profile")
    expect(page.locator("#location-note")).to_have_count(0)
    page.get_by_label("Home postcode").fill("b10 9zz")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    expect(page.locator("#location-note")).to_contain_text(APPROXIMATE)
    check_a11y(page, "profile with an approximate location")
    sign_out(page)

    with session_scope(live_server.settings) as session:
        user = session.exec(select(User).where(User.email == learner)).one()
        trainee_id = session.exec(select(Trainee.id).where(Trainee.user_id == user.id)).one()
        centre = postcodes.lookup(session, "B10 9ZZ")
        assert centre is not None
        org = f.organisation(
            session,
            name="Small Heath Labs",
            postcode="B10 9ZZ",
            latitude=centre.latitude,
            longitude=centre.longitude,
        )
        org_id = f.pk(org)
    sign_in(page, account(live_server.settings, "coordinator"))
    page.goto(f"/coordinator/trainees/{trainee_id}")
    expect(page.locator("#location-note")).to_contain_text(APPROXIMATE)
    page.goto(f"/coordinator/organisations/{org_id}")
    expect(page.locator("#location-note")).to_contain_text(APPROXIMATE)
    check_a11y(page, "host with an approximate location")
