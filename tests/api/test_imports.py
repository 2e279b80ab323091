"""Bulk CSV import: all or nothing, every bad row and field reported, spreadsheet numbering."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient
from sqlmodel import Session, select

from placement.models import Preference, RoundTrainee, Slot, Trainee
from tests.api.conftest import World, slot_count, trainee_count

API = "/api/v1"


def _upload(client: FlaskClient, world: World, kind: str, text: str | bytes, **kw: Any) -> Any:
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        f"{API}/rounds/{kw.get('round_id', world.ids['round'])}/import/{kind}",
        data={"file": (io.BytesIO(data), f"{kind}.csv")},
        content_type="multipart/form-data",
        headers=world.headers("coordinator"),
    )


def _trainee_rows(n: int, start: int = 0) -> list[str]:
    return [
        f"Learner {i},learner{i}@college.test,4,pipetting;PCR,52.48,-1.89,30,true"
        for i in range(start, start + n)
    ]


HEADER = "name,email,level,skills,latitude,longitude,max_travel_km,dbs_cleared"


def test_trainees_import_creates_enrols_and_counts(
    client: FlaskClient, world: World, session: Session
) -> None:
    before = trainee_count(session)
    text = "\ufeff" + "Name, EMAIL ,Level,Skills,Latitude,Longitude,Max_Travel_KM,DBS_Cleared\n"
    text += "\n".join(_trainee_rows(50)) + "\n\n"
    r = _upload(client, world, "trainees", text)
    assert r.status_code == 201, r.get_json()
    assert r.get_json() == {"created": 50, "updated": 0}
    assert trainee_count(session) == before + 50
    t = session.exec(select(Trainee).where(Trainee.email == "learner7@college.test")).one()
    assert t.skills == ["pipetting", "PCR"]
    assert t.dbs_cleared is True
    assert session.get(RoundTrainee, (world.ids["round"], t.id)) is not None
    # The same file again updates rather than duplicates.
    r = _upload(client, world, "trainees", text)
    assert r.get_json() == {"created": 0, "updated": 50}


def test_one_bad_row_among_many_stores_nothing(
    client: FlaskClient, world: World, session: Session
) -> None:
    before = trainee_count(session)
    rows = _trainee_rows(300)
    rows[149] = "Bad Level,bad@college.test,7,pipetting,52.48,-1.89,30,true"  # row 151
    rows[250] = "No Email,,4,pipetting,95,-1.89,0,maybe"  # row 252
    r = _upload(client, world, "trainees", HEADER + "\n" + "\n".join(rows) + "\n")
    assert r.status_code == 422
    body = r.get_json()
    assert body["message"]
    problems = {(e["row"], e["field"]) for e in body["errors"]}
    assert (151, "level") in problems
    assert {(252, "latitude"), (252, "max_travel_km"), (252, "dbs_cleared")} <= problems
    assert trainee_count(session) == before


def test_header_problems(client: FlaskClient, world: World) -> None:
    r = _upload(client, world, "trainees", "name,shoe_size\nA,9\n")
    errors = r.get_json()["errors"]
    assert r.status_code == 422
    assert {(1, "shoe_size"), (1, "email")} <= {(e["row"], e["field"]) for e in errors}
    assert _upload(client, world, "trainees", "").status_code == 422
    assert _upload(client, world, "trainees", b"name,email\n\xff\xfe,x\n").status_code == 422


def test_repeated_email_in_file(client: FlaskClient, world: World) -> None:
    text = HEADER + "\n" + "\n".join(_trainee_rows(2) + _trainee_rows(1)) + "\n"
    r = _upload(client, world, "trainees", text)
    assert r.status_code == 422
    assert r.get_json()["errors"] == [
        {"row": 4, "field": "email", "message": "repeats the email of row 2"}
    ]


def test_multiline_cells_keep_spreadsheet_numbering(client: FlaskClient, world: World) -> None:
    text = 'name,email,needs,level\nA,a@x.test,"two\nlines",4\nB,b@x.test,,9\n'
    r = _upload(client, world, "trainees", text)
    assert [(e["row"], e["field"]) for e in r.get_json()["errors"]] == [(3, "level")]


def test_preferences_column_by_id_or_title(
    client: FlaskClient, world: World, session: Session
) -> None:
    sx, sy = world.ids["slot_x"], world.ids["slot_y"]
    text = f"name,email,preferences\nPia,pia@x.test,device testing; {sx}\nQuin,quin@x.test,{sy}\n"
    r = _upload(client, world, "trainees", text)
    assert r.status_code == 201, r.get_json()
    pia = session.exec(select(Trainee).where(Trainee.email == "pia@x.test")).one()
    prefs = session.exec(
        select(Preference.slot_id)
        .where(Preference.trainee_id == pia.id)
        .order_by(
            Preference.rank  # type: ignore[arg-type]
        )
    ).all()
    assert list(prefs) == [sy, sx]
    bad = f"name,email,preferences\nRay,ray@x.test,No Such Slot;{sx};{sx}\n"
    r = _upload(client, world, "trainees", bad)
    messages = [e["message"] for e in r.get_json()["errors"]]
    assert any("No Such Slot" in m for m in messages)
    assert any("repeat" in m for m in messages)


def test_slots_import(client: FlaskClient, world: World, session: Session) -> None:
    before = slot_count(session)
    org = world.ids["org_x"]
    text = (
        "organisation_id,title,discipline,required_skills,min_level,capacity,remote,"
        "requires_dbs,starts_on,ends_on\n"
        f"{org},Microbiology bench,micro,pipetting;aseptic,4,2,no,yes,2027-02-01,2027-05-28\n"
        f"{org},Device QA,qa,,5,1,yes,no,2027-03-01,2027-06-30\n"
    )
    r = _upload(client, world, "slots", text)
    assert r.status_code == 201, r.get_json()
    assert r.get_json() == {"created": 2, "updated": 0}
    assert slot_count(session) == before + 2
    s = session.exec(select(Slot).where(Slot.title == "Microbiology bench")).one()
    assert s.required_skills == ["pipetting", "aseptic"]
    assert s.requires_dbs is True and s.latitude == 52.45  # the host's coordinates


def test_slots_import_all_or_nothing(client: FlaskClient, world: World, session: Session) -> None:
    before = slot_count(session)
    org = world.ids["org_x"]
    good = f"{org},Fine,2027-02-01,2027-05-28"
    rows = [good] * 40 + [
        "999999,Ghost host,2027-02-01,2027-05-28",
        f"{org},,2027-05-01,2027-04-01",
    ]
    text = "organisation_id,title,starts_on,ends_on\n" + "\n".join(rows) + "\n"
    r = _upload(client, world, "slots", text)
    assert r.status_code == 422
    problems = {(e["row"], e["field"]) for e in r.get_json()["errors"]}
    assert {(42, "organisation_id"), (43, "title"), (43, "ends_on")} <= problems
    assert slot_count(session) == before


def test_import_state_rules(client: FlaskClient, world: World) -> None:
    org = world.ids["org_x"]
    text = f"organisation_id,title,starts_on,ends_on\n{org},Late,2027-02-01,2027-05-28\n"
    r = _upload(client, world, "slots", text, round_id=world.ids["closed"])
    assert r.status_code == 409
    r = _upload(
        client, world, "trainees", "name,email\nZ,z@x.test\n", round_id=world.ids["published"]
    )
    assert r.status_code == 409


def test_cli_import_uses_the_same_service(committed_backend: Any, tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    from placement.db import make_engine
    from tests import factories as f
    from tests.conftest import ROOT

    engine = make_engine(committed_backend.url)
    with Session(engine) as session:
        rnd = f.round_(session, status="open")
        session.commit()
        round_id = rnd.id
    engine.dispose()
    good = tmp_path / "good.csv"
    good.write_text("name,email,level\nCli One,cli1@x.test,4\nCli Two,cli2@x.test,5\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,email,level\nCli Three,cli3@x.test,4\nCli Four,cli4@x.test,6\n")
    env = {
        **os.environ,
        "DATABASE_URL": committed_backend.url,
        "SECRET_KEY": "x",
        "PLACEMENT_INSTANCE_DIR": str(tmp_path / "instance"),
    }
    run = [sys.executable, "-m", "placement.cli", "import"]
    ok = subprocess.run(
        [*run, "trainees", "--round", str(round_id), str(good)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "2 created" in ok.stdout
    failed = subprocess.run(
        [*run, "trainees", "--round", str(round_id), str(bad)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 2
    assert "row 3, level:" in failed.stderr and "{" not in failed.stderr
    engine = make_engine(committed_backend.url)
    with Session(engine) as session:
        emails = set(session.exec(select(Trainee.email)).all())
    engine.dispose()
    assert {"cli1@x.test", "cli2@x.test"} <= emails
    assert "cli3@x.test" not in emails


def test_a_slot_row_reports_every_problem_at_once(client: FlaskClient, world: World) -> None:
    text = (
        "organisation_id,title,capacity,starts_on,ends_on\n"
        "999999,Ghost host,0,2027-02-01,2027-05-28\n"
    )
    r = _upload(client, world, "slots", text)
    assert r.status_code == 422
    problems = {(e["row"], e["field"]) for e in r.get_json()["errors"]}
    assert problems == {(2, "organisation_id"), (2, "capacity")}
