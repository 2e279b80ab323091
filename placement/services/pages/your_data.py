"""Read model of the trainee's "Your data" page: everything held about them, as the JSON
download has it, told in words and grouped: profile, choices by round, what hosts and runs
made of them, placements, account and activity. Names, not ids; no cost terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from placement.models import MatchRun, Round, User
from placement.services import privacy
from placement.services.pages.lookups import slot_labels
from placement.services.pages.words import uk_date

UNPLACED = {
    "no_eligible_slot": "not placed: no slot you were eligible for",
    "outcompeted": "not placed: every slot you were eligible for went to others",
}


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class Choice:
    rank: int
    slot: str
    host: str


@dataclass(frozen=True)
class RoundRecord:
    name: str
    status: str
    joined: str
    choices: list[Choice] = field(default_factory=list)
    host_rankings: list[str] = field(default_factory=list)
    ruled_out: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Event:
    when: Any
    what: str


@dataclass(frozen=True)
class DataPage:
    exported_at: Any
    profile: list[Fact]
    rounds: list[RoundRecord]
    placements: list[list[Fact]]
    account: list[Fact]
    activity: list[Event]
    about_you: list[Event]
    notes: list[Event] = field(default_factory=list)


def _when(value: Any) -> Any:
    """ISO text from the export back to a date or datetime, for the page's date filter."""
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _or_dash(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "not given"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _date(value: Any) -> str:
    return uk_date(_when(value), empty="not given")


def _action(action: str) -> str:
    noun, _, verb = action.partition(".")
    return f"{noun.replace('_', ' ')} {verb.replace('_', ' ')}".strip().capitalize()


def data_page(session: Session, actor: User) -> DataPage:
    data = privacy.export_own_data(session=session, actor=actor)
    p = data["profile"]
    profile = [
        Fact("Name", _or_dash(p.get("name"))),
        Fact("Email address", _or_dash(p.get("email"))),
        Fact("Qualification level", f"Level {p['level']}" if p.get("level") else "not given"),
        Fact("College or training provider", _or_dash(p.get("provider"))),
        Fact("Skills", _or_dash(p.get("skills"))),
        Fact("Home postcode", _or_dash(p.get("postcode"))),
        Fact(
            "Home location",
            f"{p['latitude']:.4f}, {p['longitude']:.4f} (latitude, longitude)"
            if p.get("latitude") is not None and p.get("longitude") is not None
            else "not given",
        ),
        Fact(
            "Furthest you can travel",
            f"{p['max_travel_km']:g} km" if p.get("max_travel_km") is not None else "not given",
        ),
        Fact(
            "Available",
            f"{_date(p.get('available_from'))} to {_date(p.get('available_to'))}"
            if p.get("available_from") or p.get("available_to")
            else "not given",
        ),
        Fact("DBS check", "cleared" if p.get("dbs_cleared") else "not cleared"),
        Fact("What a host should know", _or_dash(p.get("needs"))),
        Fact("Record made", _date(p.get("created_at"))),
        Fact("Last changed", _date(p.get("updated_at"))),
    ]

    slot_ids = (
        [r["slot_id"] for r in data["preferences"]]
        + [r["slot_id"] for r in data["employer_rankings"]]
        + [r["slot_id"] for r in data["exclusions"]]
        + [r["slot_id"] for r in data["proposals"]]
        + [r["slot_id"] for r in data["placements"]]
    )
    labels = slot_labels(session, slot_ids)

    def slot(sid: int) -> tuple[str, str]:
        label = labels.get(sid)
        return (label.title, label.organisation) if label else ("a slot since removed", "")

    run_ids = {r["run_id"] for r in data["proposals"]} | {r["run_id"] for r in data["unplaced"]}
    runs = {r.id: r for r in session.exec(select(MatchRun).where(col(MatchRun.id).in_(run_ids)))}
    round_ids = (
        {r["round_id"] for r in data["rounds"]}
        | {r["round_id"] for r in data["preferences"]}
        | {r["round_id"] for r in data["placements"]}
        | {r.round_id for r in runs.values()}
    )
    rounds = {r.id: r for r in session.exec(select(Round).where(col(Round.id).in_(round_ids)))}
    joined = {r["round_id"]: r for r in data["rounds"]}
    slot_round = {r["slot_id"]: r["round_id"] for r in data["preferences"]}
    slot_round.update({r["slot_id"]: r["round_id"] for r in data["exclusions"]})

    records: dict[int, RoundRecord] = {}
    for rid in sorted(round_ids, key=lambda i: rounds[i].starts_on if i in rounds else date.min):
        rnd = rounds.get(rid)
        if rnd is None:
            continue
        j = joined.get(rid, {})
        records[rid] = RoundRecord(
            name=rnd.name,
            status=str(rnd.status),
            joined=f"since {_date(j.get('created_at'))}" if j.get("created_at") else "",
        )
    for pref in sorted(data["preferences"], key=lambda r: r["rank"]):
        title, host = slot(pref["slot_id"])
        if pref["round_id"] in records:
            records[pref["round_id"]].choices.append(Choice(pref["rank"], title, host))
    for ranking in data["employer_rankings"]:
        title, host = slot(ranking["slot_id"])
        rid = slot_round.get(ranking["slot_id"])
        target = records.get(rid) if rid is not None else None
        line = f"{host} put you at position {ranking['rank']} of their applicants for {title}"
        if target is not None:
            target.host_rankings.append(line)
    for ex in data["exclusions"]:
        title, host = slot(ex["slot_id"])
        if ex["round_id"] in records:
            reason = f": {ex['reason']}" if ex.get("reason") else ""
            records[ex["round_id"]].ruled_out.append(f"{title} at {host}{reason}")
    for prop in data["proposals"]:
        run = runs.get(prop["run_id"])
        if run is None or run.round_id not in records:
            continue
        title, host = slot(prop["slot_id"])
        choice = f"your choice {prop['rank']}" if prop.get("rank") else "a slot you did not rank"
        status = str(prop.get("status", "")).replace("_", " ")
        records[run.round_id].results.append(
            f"Match run of {_date(_run_when(run))}: offered {title} at {host} ({choice}), {status}"
        )
    for un in data["unplaced"]:
        run = runs.get(un["run_id"])
        if run is None or run.round_id not in records:
            continue
        why = UNPLACED.get(un["reason"], "not placed")
        records[run.round_id].results.append(f"Match run of {_date(_run_when(run))}: {why}")

    placements = []
    for pl in data["placements"]:
        title, host = slot(pl["slot_id"])
        rnd = rounds.get(pl["round_id"])
        placements.append(
            [
                Fact("Placement", title),
                Fact("Host", host),
                Fact("Round", rnd.name if rnd else "—"),
                Fact("Status", str(pl.get("status", "")).replace("_", " ")),
                Fact("Approved", _date(pl.get("created_at"))),
            ]
            + ([Fact("Withdrawn", _date(pl["withdrawn_at"]))] if pl.get("withdrawn_at") else [])
        )

    a = data["account"]
    tokens = data["api_tokens"]
    account = [
        Fact("Email address", _or_dash(a.get("email"))),
        Fact("Name", _or_dash(a.get("name"))),
        Fact("Kind of account", str(a.get("role", ""))),
        Fact("Password", "held only as a one-way hash, which cannot be turned back into it"),
        Fact("Account made", _date(a.get("created_at"))),
        Fact("Last signed in", _date(a.get("last_login_at"))),
        Fact(
            "API tokens",
            f"{len(tokens)} (held only as one-way hashes)" if tokens else "none",
        ),
    ]
    return DataPage(
        exported_at=_when(data["exported_at"]),
        profile=profile,
        rounds=list(records.values()),
        placements=placements,
        account=account,
        activity=[Event(_when(e["at"]), _action(e["action"])) for e in data["activity"]],
        about_you=[Event(_when(e["at"]), _action(e["action"])) for e in data["about_you"]],
        notes=[Event(_when(n["created_at"]), n["text"]) for n in data.get("notes", [])],
    )


def _run_when(run: MatchRun) -> Any:
    return run.finished_at or run.created_at
