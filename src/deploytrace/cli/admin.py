"""Operator commands: `server`, `admin bootstrap`, `db upgrade`, `db reindex`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from deploytrace.cli import output
from deploytrace.cli.main import State, common_options

if TYPE_CHECKING:
    from deploytrace.storage.db import Database

_URL_HELP = (
    "postgresql+psycopg://user:pass@host/db or sqlite:///path [env DEPLOYTRACE_DATABASE_URL]."
)


def _database(state: State, url: str | None) -> Database:
    from deploytrace.storage.db import Database

    url = url or state.settings.database_url or state.settings.embedded_database_url
    return Database(url, state.settings)


@click.command(help="Serve the HTTP API and the dashboard.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--database-url", default=None, help=_URL_HELP)
@click.option(
    "--database-read-url",
    default=None,
    help="A PostgreSQL streaming replica of the database for reads (postgresql+psycopg://...); "
    "reads fall back to the database when it is down or lags more than "
    "DEPLOYTRACE_READ_MAX_LAG seconds [env DEPLOYTRACE_DATABASE_READ_URL].",
)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes."
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@common_options
def server(
    state: State,
    host: str,
    port: int,
    database_url: str | None,
    database_read_url: str | None,
    workers: int,
    log_level: str,
) -> None:
    import uvicorn

    from deploytrace.services import contents
    from deploytrace.storage import migrate
    from deploytrace.storage.db import Database

    url = database_url or state.settings.database_url or state.settings.embedded_database_url
    read_url = database_read_url or state.settings.database_read_url
    # Refuse a read URL that cannot work before serving anything; a replica that
    # is merely down is fine (reads use the primary until it is back).
    db = Database(url, state.settings, read_url=read_url)
    migrate.upgrade(db)  # safe with several replicas starting at once (advisory lock)
    contents.repair(db)  # contents indexing a stopped process left unfinished
    db.dispose()
    os.environ["DEPLOYTRACE_DATABASE_URL"] = db.url
    if read_url:
        os.environ["DEPLOYTRACE_DATABASE_READ_URL"] = read_url
    else:
        os.environ.pop("DEPLOYTRACE_DATABASE_READ_URL", None)
    uvicorn.run(
        "deploytrace.api.app:server_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=True,
        server_header=False,
    )


@click.group(help="Operator commands that talk to the database directly.")
def admin() -> None:
    pass


@admin.command(help="Create an organization if needed and print a new admin token for it.")
@click.option("--database-url", default=None, help=_URL_HELP)
@click.option("--org", "org_name", required=True, help="Organization name (DNS-1123 label).")
@common_options
def bootstrap(state: State, database_url: str | None, org_name: str) -> None:
    from deploytrace.services import tenancy
    from deploytrace.storage import migrate

    db = _database(state, database_url)
    migrate.ensure_current(db)
    org, token = tenancy.bootstrap(db, org_name)
    if state.json:
        output.emit_json({"org": org.name, "token": token})
    else:
        click.echo(f"organization: {org.name}")
        click.echo(f"token:        {token}")
        click.echo("The token is shown once; store it now.", err=True)


@click.group(help="Database schema management.")
def db() -> None:
    pass


@db.command(help="Apply pending migrations.")
@click.option("--database-url", default=None, help=_URL_HELP)
@common_options
def upgrade(state: State, database_url: str | None) -> None:
    from deploytrace.storage import migrate

    database = _database(state, database_url)
    ran = migrate.upgrade(database)
    result = {"revision": migrate.HEAD, "migrated": ran}
    if state.json:
        output.emit_json(result)
    else:
        click.echo(
            f"schema at revision {migrate.HEAD}" + (" (upgraded)" if ran else " (already current)")
        )


@db.command(
    help="Index what stored attestations say about contents (SBOMs, scans, VEX): those "
    "pushed before the index existed, and any left unfinished; --all: every one again."
)
@click.option("--database-url", default=None, help=_URL_HELP)
@click.option("--all", "everything", is_flag=True, help="Index every attestation again.")
@common_options
def reindex(state: State, database_url: str | None, everything: bool) -> None:
    from dataclasses import asdict

    from deploytrace.services import contents
    from deploytrace.storage import migrate

    database = _database(state, database_url)
    migrate.ensure_current(database)
    report = asdict(contents.reindex(database, everything=everything))
    if state.json:
        output.emit_json(report)
    else:
        click.echo(
            f"indexed {report['attestations']} attestations ({report['with_contents']} with "
            f"contents: {report['components']} components, {report['findings']} findings, "
            f"{report['statements']} VEX statements; {report['skipped']} entries skipped), "
            f"finished {report['repaired']} interrupted"
        )
