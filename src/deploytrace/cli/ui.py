"""`deploytrace ui`: the dashboard on the embedded database, for one person on this machine.

It binds 127.0.0.1 only, mints a short-lived viewer token of the embedded
organization, and prints (and opens) a one-time sign-in link whose code the page
trades for that token (see api/one_time_sign_in.py). Ctrl-C stops it and revokes
the token.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import socket
import sys
import webbrowser
from types import FrameType

import click

from deploytrace.cli import output
from deploytrace.cli.main import State, common_options

HOST = "127.0.0.1"


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
    except OSError as error:
        sock.close()
        raise click.ClickException(f"cannot listen on {HOST}:{port}: {error.strerror}") from None
    return sock


@click.command(help="Open the dashboard on the embedded database (on 127.0.0.1 only).")
@click.option(
    "--port",
    default=0,
    type=click.IntRange(0, 65535),
    help="Port to listen on [default: a free one].",
)
@click.option("--no-browser", is_flag=True, help="Print the sign-in link without opening it.")
@click.option(
    "--expires-in",
    default="8h",
    show_default=True,
    help="How long the browser's token lives (it is revoked when ui stops anyway).",
)
@common_options
def ui(state: State, port: int, no_browser: bool, expires_in: str) -> None:
    import uvicorn

    from deploytrace.api import one_time_sign_in
    from deploytrace.api.app import create_app
    from deploytrace.api.runtime import Runtime
    from deploytrace.services import tenancy
    from deploytrace.storage import migrate
    from deploytrace.storage.db import Database

    settings = state.settings
    if state.server:
        click.echo(
            f"note: ui serves the embedded database, not the server at {state.server}", err=True
        )
    db = Database(settings.embedded_database_url, settings)
    migrate.ensure_current(db)
    owner = tenancy.local_actor(db)
    sock = _listen(port)
    info, token = tenancy.create_token(
        db, owner, name=f"ui-{secrets.token_hex(4)}", role="viewer", expires_in=expires_in
    )
    try:
        codes = one_time_sign_in.SignInCodes()
        code = codes.issue(token, info.expires_at)
        # No local actor: every /v1 call needs the token, as on a server.
        app = create_app(Runtime(db=db, settings=settings))
        one_time_sign_in.mount(app, codes)
        url = f"http://{HOST}:{sock.getsockname()[1]}/"
        link = f"{url}#/sign-in?code={code}"
        minutes = int(codes.lifetime // 60)
        if state.json:
            output.emit_json({"url": url, "sign_in_url": link, "database": db.url})
        else:
            database = settings.home / "deploytrace.db"
            click.echo(f"deploytrace dashboard on {url} (database {database})")
            click.echo(f"Sign in with this link (it works once, within {minutes} minutes):")
            click.echo(f"  {link}")
            click.echo("Press Ctrl-C to stop.")
        sys.stdout.flush()
        if not no_browser and not webbrowser.open(link):
            click.echo("Could not open a browser: open the link above yourself.", err=True)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            server_header=False,
            lifespan="off",
        )
        # uvicorn stops on SIGINT/SIGTERM, then raises the signal again for the handler
        # it found: make both end here, in the `finally` that revokes the token.
        signal.signal(signal.SIGTERM, _stop)
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        tenancy.revoke_token(db, owner, info.name)
        db.dispose()
    click.echo("stopped; the dashboard's token is revoked.", err=True)
