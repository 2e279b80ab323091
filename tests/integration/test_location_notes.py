"""Pages say when a stored location is only its district's centre (the outward-code
fallback of services/postcodes.py), read from what is stored, on SQLite and Postgres."""

from __future__ import annotations

from sqlmodel import Session

from placement.services import postcodes
from tests import factories as f
from tests.postcodes_support import load_demo_postcodes


def test_a_district_centre_is_named_approximate_and_an_exact_postcode_is_not(
    session: Session,
) -> None:
    load_demo_postcodes(session)
    centre = postcodes.lookup(session, "B10 9ZZ")
    exact = postcodes.lookup(session, "B10 2BX")
    assert centre is not None and centre.approximate
    assert exact is not None and not exact.approximate
    near = f.trainee(
        session, postcode="B10 9ZZ", latitude=centre.latitude, longitude=centre.longitude
    )
    home = f.trainee(
        session, postcode="B10 2BX", latitude=exact.latitude, longitude=exact.longitude
    )
    # Coordinates typed in by hand are the user's own: nothing to warn about.
    typed = f.trainee(session, postcode="B10 9ZZ", latitude=52.5, longitude=-1.8)
    host = f.organisation(
        session, postcode="B10 9ZZ", latitude=centre.latitude, longitude=centre.longitude
    )
    assert postcodes.approximate_note(session, near) == (
        "Location approximate: we found the area (B10) but not the full postcode B10 9ZZ, "
        "so distances may be a few kilometres out."
    )
    assert postcodes.approximate_note(session, home) is None
    assert postcodes.approximate_note(session, typed) is None
    assert postcodes.approximate_note(session, None) is None
    assert set(postcodes.approximate_notes(session, [near, home, host])) == {"B10 9ZZ"}
