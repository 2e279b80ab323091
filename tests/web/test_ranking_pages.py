"""Ranking and finding pages without a browser, on both databases: the trainee's search
and saving choices as they change (JSON for the page's script, redirects without it), and
the employer's applicants starting unranked."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from placement.models import EmployerRanking, Organisation, Preference, Trainee, User
from placement.web.common import moved
from tests import factories as f
from tests.web.helpers import client_sign_in, csrf_token

JSON = {"Accept": "application/json"}


def _trainee(client: Any, session: Session) -> Trainee:
    user = client_sign_in(client, session, "trainee", "ranker@example.test")
    me = session.exec(select(Trainee).where(Trainee.user_id == user.id)).one()
    for key, value in f.trainee(session, email="spare@example.test").model_dump().items():
        if key in {
            "level",
            "latitude",
            "longitude",
            "max_travel_km",
            "available_from",
            "available_to",
        }:
            setattr(me, key, value)
    session.flush()
    return me


def test_moves_without_javascript() -> None:
    assert moved([1, 2, 3, 4], "to:4:1") == [4, 1, 2, 3]
    assert moved([1, 2, 3, 4], "to:1:9") == [2, 3, 4, 1]
    assert moved([1, 2, 3], "to:2:x") == [1, 2, 3]
    assert moved([1, 2], "add:7") == [1, 2, 7]
    assert moved([1, 2], "add:2") == [1, 2]


def test_the_search_box_finds_by_title_host_discipline_and_skill(
    client: Any, session: Session
) -> None:
    _trainee(client, session)
    rnd = f.round_(session, name="Search round")
    coventry = f.organisation(session, name="Coventry Calibration Ltd")
    other = f.organisation(session, name="Walsall Labs")
    f.slot(
        session, round=rnd, organisation=coventry, title="Torque testing", discipline="metrology"
    )
    f.slot(
        session,
        round=rnd,
        organisation=other,
        title="Sample reception",
        required_skills=["ELISA"],
        discipline="diagnostics",
    )
    cases = {
        "coventry": ["Torque testing"],
        "METROLOGY": ["Torque testing"],
        "elisa": ["Sample reception"],
        "sample walsall": ["Sample reception"],
        "sample coventry": [],
    }
    for query, expected in cases.items():
        page = client.get("/trainee/slots", query_string={"q": query}).text
        for title in ("Torque testing", "Sample reception"):
            assert (f">{title}<" in page) == (title in expected), (query, title)
        assert f"found for “{query}”" in page
    assert 'type="search"' in client.get("/trainee/slots").text


def test_choices_save_as_they_change_for_the_script_and_still_without_it(
    client: Any, session: Session
) -> None:
    me = _trainee(client, session)
    rnd = f.round_(session, name="Autosave round")
    org = f.organisation(session)
    a, b = (f.slot(session, round=rnd, organisation=org, title=t) for t in ("Alpha", "Beta"))
    f.preference(session, trainee=me, slot=a, rank=1)
    f.preference(session, trainee=me, slot=b, rank=2)
    page = client.get(f"/trainee/choices?round={rnd.id}").text
    assert "data-autosave" in page and "data-confirm-leave" in page
    token = csrf_token(page)
    url = f"/trainee/choices?round={rnd.id}"

    saved = client.post(
        url, data={"csrf_token": token, "save": "1", "slot_ids": [b.id, a.id]}, headers=JSON
    )
    assert saved.status_code == 200 and saved.json == {"saved": True, "count": 2}
    ranks = session.exec(select(Preference).where(Preference.trainee_id == me.id)).all()
    assert sorted((p.rank, p.slot_id) for p in ranks) == [(1, b.id), (2, a.id)]

    refused = client.post(
        url, data={"csrf_token": token, "save": "1", "slot_ids": [a.id, a.id]}, headers=JSON
    )
    assert refused.status_code == 422 and refused.json["saved"] is False
    assert refused.json["errors"]
    # No token, no save, for the script as for the form.
    assert client.post(url, data={"slot_ids": [a.id]}, headers=JSON).status_code == 400

    plain = client.post(url, data={"csrf_token": token, "save": "1", "slot_ids": [a.id]})
    assert plain.status_code == 302


def test_applicants_start_unranked_and_saving_unchanged_ranks_nobody(
    client: Any, session: Session
) -> None:
    user = client_sign_in(client, session, "employer", "host@example.test")
    org = f.organisation(session, owner_id=user.id, name="Tame Valley Labs")
    rnd = f.round_(session, name="Applicants round")
    slot = f.slot(
        session,
        round=rnd,
        organisation=org,
        title="Assay work",
        required_skills=["pipetting", "ELISA"],
    )
    people = {
        name: f.trainee(session, name=name, skills=skills)
        for name, skills in (("Zara Khan", ["pipetting", "elisa"]), ("Adam Lee", []))
    }
    for rank, person in enumerate(people.values(), start=1):
        f.preference(session, trainee=person, slot=slot, rank=rank)
    url = f"/employer/slots/{slot.id}/applicants"
    page = client.get(url).text
    assert "You have not ranked anyone yet." in page
    assert page.index("Adam Lee") < page.index("Zara Khan")  # by name, not a ranking
    assert 'name="trainee_ids"' not in page
    assert "2 of 2 skills wanted" in page and "0 of 2 skills wanted" in page
    assert "under 10 km" in page and "available for all of it" in page
    assert "their choice" not in page

    token = csrf_token(page)
    unchanged = client.post(url, data={"csrf_token": token, "save": "1"})
    assert unchanged.status_code == 302
    assert session.exec(select(EmployerRanking)).all() == []

    zara, adam = people["Zara Khan"].id, people["Adam Lee"].id
    added = client.post(url, data={"csrf_token": token, "move": f"add:{zara}"})
    assert added.status_code == 200 and "not saved yet" in added.text
    assert f'name="trainee_ids" value="{zara}"' in added.text
    to_top = client.post(
        url,
        data={
            "csrf_token": token,
            "trainee_ids": [zara, adam],
            "move": f"to:{adam}",
            f"position-{adam}": "1",
        },
    )
    assert to_top.text.index(f'value="{adam}"') < to_top.text.index(f'value="{zara}"')
    client.post(url, data={"csrf_token": token, "save": "1", "trainee_ids": [adam, zara]})
    stored = session.exec(select(EmployerRanking).order_by(EmployerRanking.rank)).all()
    assert [r.trainee_id for r in stored] == [adam, zara]
    assert session.get(Organisation, org.id) is not None and isinstance(user, User)
