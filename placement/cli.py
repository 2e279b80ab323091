"""The `placement` command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from placement.config import Settings


def _settings() -> Settings:
    return Settings.from_env()


class _Commands(click.Group):
    """The command group; a refusal from a service (a DomainError) ends any command the
    same way: its message and field errors on stderr, exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        from placement.errors import DomainError

        try:
            return super().invoke(ctx)
        except DomainError as exc:
            _fail(exc)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Placement: match MedTech trainees to industry placements."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--workers",
    default=None,
    type=int,
    help="gunicorn processes (default: 2 with Redis, 1 on the embedded default)",
)
@click.option("--threads", default=8, show_default=True, type=int, help="threads per process")
def serve(host: str, port: int, workers: int | None, threads: int) -> None:
    """Run the web server (gunicorn, not the debug server)."""
    from gunicorn.app.base import BaseApplication

    from placement import create_app

    settings = _settings()
    if workers is None:
        # Rate-limit counters live in Redis when there is one; without it they are per
        # process, so one process keeps the login limit what it says.
        workers = 2 if settings.redis_url else 1

    _drop_server_banner()

    class Server(BaseApplication):
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "accesslog": "-",
                "timeout": 120,
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(settings)

    Server().run()


def _drop_server_banner() -> None:
    """gunicorn writes `Server: gunicorn` before the app's headers and has no setting to
    leave it out; a name and version only help an attacker pick an exploit."""
    from gunicorn.http import wsgi

    response = wsgi.Response
    if getattr(response, "_placement_no_banner", False):
        return
    default_headers = response.default_headers

    def without_banner(self: Any) -> list[str]:
        return [h for h in default_headers(self) if not h.lower().startswith("server:")]

    response.default_headers = without_banner
    response._placement_no_banner = True


@main.command()
@click.option("--concurrency", "-c", default=None, type=int, help="processes (default: cores)")
@click.option(
    "--pool",
    default="prefork",
    show_default=True,
    type=click.Choice(["prefork", "solo", "threads"]),
)
@click.option("--loglevel", "-l", default="INFO", show_default=True)
def worker(concurrency: int | None, pool: str, loglevel: str) -> None:
    """Run one Celery worker on the configured broker."""
    from workers.celery_app import app

    concurrency = concurrency or min(2, os.cpu_count() or 1)
    app.worker_main(
        ["worker", f"--loglevel={loglevel}", f"--pool={pool}", f"--concurrency={concurrency}"]
    )


@main.command()
@click.option("--loglevel", "-l", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """Run Celery beat: sends the periodic jobs (outbox sweep, deadline reminders). Run
    exactly one beside the workers."""
    from workers.celery_app import app

    settings = app.conf.placement_settings
    schedule = settings.instance_dir / "celerybeat-schedule"
    app.start(["beat", f"--loglevel={loglevel}", f"--schedule={schedule}"])


@main.command()
def migrate() -> None:
    """Apply all migrations to DATABASE_URL."""
    from placement import migrate as migrations

    settings = _settings()
    migrations.upgrade(settings.database_url, settings=settings)
    click.echo("database is at the latest migration")


@main.command("seed-demo")
def seed_demo() -> None:
    """Load the West Midlands demo (safe to run twice)."""
    from placement.db import session_scope
    from placement.demo import seed_demo as seed

    with session_scope(_settings()) as session:
        summary = seed(session=session)
    click.echo(summary)


@main.command("load-postcodes")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--batch-size",
    default=5000,
    show_default=True,
    type=click.IntRange(min=1),
    help="rows written per statement",
)
def load_postcodes(file: Path, batch_size: int) -> None:
    """Load the ONS Postcode Directory (ONSPD CSV, or its zip) into the postcodes table.

    Safe to run again (a newer directory replaces older coordinates). Rows without a grid
    reference are skipped; terminated postcodes are kept. Trainees and hosts saved with a
    postcode but no coordinates get them."""
    from placement.db import session_scope
    from placement.services.postcode_directory import load_postcode_file
    from placement.services.postcodes import fill_missing_coordinates

    def progress(loaded: int) -> None:
        if loaded % 500_000 < batch_size:
            click.echo(f"  {loaded:,} postcodes so far", err=True)

    settings = _settings()
    with session_scope(settings) as session:
        result = load_postcode_file(
            session=session, path=file, batch_size=batch_size, progress=progress
        )
    with session_scope(settings) as session:
        filled = fill_missing_coordinates(session=session, settings=settings)
    click.echo(
        f"loaded {result.loaded:,} postcodes; skipped {result.skipped_no_grid:,} without a "
        "grid reference"
    )
    if filled:
        click.echo(
            f"filled in coordinates for {filled:,} trainee(s) or host(s) saved with a postcode only"
        )
    if result.skipped_unreadable:
        rows = ", ".join(map(str, result.unreadable_rows))
        more = ", ..." if result.skipped_unreadable > len(result.unreadable_rows) else ""
        click.echo(
            f"skipped {result.skipped_unreadable:,} rows whose postcode or coordinates could "
            f"not be read (rows {rows}{more})",
            err=True,
        )


@main.command("create-user")
@click.option("--role", required=True, type=click.Choice(["trainee", "employer", "coordinator"]))
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option(
    "--mfa",
    is_flag=True,
    help="turn on two-step sign-in now and print the enrolment URI (for an authenticator "
    "app) and the ten recovery codes",
)
def create_user(role: str, email: str, name: str, password: str, mfa: bool) -> None:
    """Create an account of any role, coordinators included (its address counts as
    verified)."""
    from placement.db import session_scope
    from placement.services import mfa as mfa_service
    from placement.services.users import create_user as create

    with session_scope(_settings()) as session:
        user = create(session=session, email=email, name=name, role=role, password=password)
        enrolment = mfa_service.enable_now(session=session, user=user) if mfa else None
    click.echo(f"created {user.role} {user.email} (id {user.id})")
    if enrolment is not None:
        uri, codes = enrolment[0].otpauth_uri, enrolment[1]
        click.echo("two-step sign-in is on; add this to an authenticator app:")
        click.echo(uri)
        click.echo("recovery codes (each works once; shown only now):")
        for code in codes:
            click.echo(f"  {code}")


@main.command("rotate-encryption-key")
def rotate_encryption_key() -> None:
    """Re-encrypt the stored TOTP secrets with the first key of PLACEMENT_ENCRYPTION_KEY
    (any key in the list opens the old ones); afterwards the old keys may be dropped."""
    from placement.db import session_scope
    from placement.encryption import SecretUnreadable
    from placement.services import mfa as mfa_service

    settings = _settings()
    try:
        with session_scope(settings) as session:
            count = mfa_service.rotate_keys(session=session, settings=settings)
    except SecretUnreadable as exc:
        raise click.ClickException(
            "a stored TOTP secret opens with none of the keys in PLACEMENT_ENCRYPTION_KEY "
            "(or SECRET_KEY); nothing was changed. Put the key it was stored with back in "
            "the list."
        ) from exc
    click.echo(f"re-encrypted the two-step sign-in secrets of {count} account(s)")


@main.command()
@click.argument("instance", type=click.Path(allow_dash=True))
@click.option("--mode", type=click.Choice(["optimal", "stable"]), help="overrides the file's mode")
def solve(instance: str, mode: str | None) -> None:
    """Solve an instance file offline and print the result file (`-` reads stdin)."""
    from placement.matching import run_solve_cli

    sys.exit(run_solve_cli(instance, sys.stdout, sys.stderr, mode=mode))


@main.command("export-instance")
@click.option("--round", "round_id", type=int, help="round id: the round as it stands now")
@click.option(
    "--run",
    "run_id",
    type=int,
    help="run id: the instance that run solved, byte for byte as stored (its SHA-256 is the "
    "run's instance_sha256)",
)
def export_instance(round_id: int | None, run_id: int | None) -> None:
    """Print an instance file (placement-instance/1) to stdout: a round's, or a run's."""
    import json

    from placement.db import session_scope
    from placement.services.instances import build_instance
    from placement.services.runs.stored import stored_instance

    if (round_id is None) == (run_id is None):
        raise click.UsageError("give exactly one of --round and --run")
    with session_scope(_settings()) as session:
        if run_id is not None:
            # Byte for byte, with no newline added: `| sha256sum` gives instance_sha256.
            output = stored_instance(session=session, run_id=run_id).content
        elif round_id is not None:
            data = build_instance(session=session, round_id=round_id)
            output = (json.dumps(data, indent=1) + "\n").encode()
    sys.stdout.buffer.write(output)
    sys.stdout.flush()


@main.command("run")
@click.option("--round", "round_id", required=True, type=int, help="round id (closed)")
@click.option("--wait/--no-wait", default=False, help="wait for the worker to finish it")
def run_round(round_id: int, wait: bool) -> None:
    """Start a match run for a closed round as the first coordinator (a worker must run)."""
    import json
    import time

    from placement.db import session_scope
    from placement.models import RunStatus
    from placement.services.runs.reading import get_run, start_run
    from placement.services.users import first_coordinator

    settings = _settings()
    with session_scope(settings) as session:
        actor = first_coordinator(session)
        run = start_run(session=session, actor=actor, round_id=round_id, settings=settings)
    click.echo(f"run {run.id} queued")
    while wait:
        time.sleep(1)
        with session_scope(settings, readonly=True) as session:
            assert run.id is not None
            current = get_run(session=session, actor=first_coordinator(session), run_id=run.id)
        click.echo(f"run {current.id}: {current.status} {current.phase} {current.progress}%")
        if current.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            if current.status == RunStatus.FAILED:
                click.echo(f"error: {current.error}", err=True)
                sys.exit(1)
            click.echo(json.dumps(current.stats, indent=1) if current.stats else "")
            break


@main.command("import")
@click.argument("kind", type=click.Choice(["trainees", "slots"]))
@click.option("--round", "round_id", required=True, type=int, help="round id")
@click.argument("file", type=click.File("rb"))
def import_csv(kind: str, round_id: int, file: Any) -> None:
    """Import trainees or slots from a CSV file: all rows or none (same rules as the API)."""
    from placement.db import session_scope
    from placement.services.imports import IMPORTERS

    settings = _settings()
    with session_scope(settings) as session:
        result = IMPORTERS[kind](
            session=session,
            actor=None,
            round_id=round_id,
            data=file.read(),
            system=True,
            settings=settings,
        )
    click.echo(f"imported {kind}: {result.created} created, {result.updated} updated")


@main.command()
def purge() -> None:
    """Remove what is past its retention: failed sign-in events, revoked or expired tokens,
    read notifications, stored instances of unpublished runs (ages: PLACEMENT_RETAIN_*)."""
    from placement.db import session_scope
    from placement.services.retention import purge as purge_expired

    settings = _settings()
    with session_scope(settings) as session:
        report = purge_expired(session=session, settings=settings)
    for line in report.lines():
        click.echo(line)


def _fail(exc: Any) -> NoReturn:
    message = getattr(exc, "message", str(exc))
    errors = getattr(exc, "errors", None)
    click.echo(f"error: {message}", err=True)
    if isinstance(errors, dict):
        for field, messages in errors.items():
            click.echo(f"  {field}: {'; '.join(map(str, messages))}", err=True)
    elif isinstance(errors, list):
        for item in errors:
            if isinstance(item, dict) and {"row", "field", "message"} <= item.keys():
                item = f"row {item['row']}, {item['field']}: {item['message']}"
            click.echo(f"  {item}", err=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
