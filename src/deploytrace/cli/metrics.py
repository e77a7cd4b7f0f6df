"""`deploytrace metrics dora`: DORA's four figures from the recorded deployments."""

from __future__ import annotations

from typing import Any

import click

from deploytrace.cli import output
from deploytrace.cli.main import State, common_options


@click.group(help="Figures computed from the recorded deployments.")
def metrics() -> None:
    pass


_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def span(seconds: float | None) -> str:
    """A duration for people: its largest unit and the one below (`1d4h`, `2h13m`, `45s`)."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds:.2f}s"
    rest = round(seconds)
    for i, (unit, size) in enumerate(_UNITS):
        if rest >= size:
            text = f"{rest // size}{unit}"
            if i + 1 < len(_UNITS):
                below, below_size = _UNITS[i + 1]
                part = rest % size // below_size
                text += f"{part}{below}" if part else ""
            return text
    return "0s"


def _percentiles(figures: dict[str, Any]) -> str:
    if figures["p50"] is None:
        return "- (no values)"
    return f"p50 {span(figures['p50'])}, p90 {span(figures['p90'])}"


def show(figures: dict[str, Any]) -> None:
    window = figures["window"]
    rate = figures["change_failure_rate"]
    count = figures["deployments"]
    failed = round(rate * count) if rate is not None else 0
    output.fields(
        [
            ("window", f"{window['from']} → {window['to']}"),
            (
                "deployments",
                f"{count} ({figures['deployment_frequency_per_day']:.2f} per day)",
            ),
            ("lead time", _percentiles(figures["lead_time_seconds"])),
            (
                "change failure rate",
                f"{rate:.1%} ({failed} of {count} failed)" if rate is not None else "-",
            ),
            ("time to restore", _percentiles(figures["time_to_restore_seconds"])),
        ]
    )


@metrics.command(
    help=(
        "Deployment frequency, lead time (first attestation to deployment), change failure "
        "rate (rollbacks and decommissions within the failure window) and time to restore, "
        "over the records created in a logical environment in a window."
    )
)
@click.option("--logical-env", "logical_environment", required=True, help="E.g. production.")
@click.option("--env", "environment", default=None, help="Only this environment.")
@click.option("--deployment-name", default=None, help="Only this deployment name.")
@click.option(
    "--since",
    default=None,
    metavar="30d|TIME",
    help="Window start: a duration before --until, or an RFC 3339 time. [default: 30d]",
)
@click.option("--until", default=None, metavar="TIME", help="Window end (RFC 3339). [default: now]")
@click.option(
    "--failure-window",
    default=None,
    metavar="DURATION",
    help="A rollback or decommission this soon after a deployment fails it. [default: 24h]",
)
@common_options
def dora(
    state: State,
    logical_environment: str,
    environment: str | None,
    deployment_name: str | None,
    since: str | None,
    until: str | None,
    failure_window: str | None,
) -> None:
    params = {
        "logical_environment": logical_environment,
        "environment": environment,
        "deployment_name": deployment_name,
        "since": since,
        "until": until,
        "failure_window": failure_window,
    }
    figures = state.client.call("GET", "/v1/metrics/dora", params=params)
    if state.json:
        output.emit_json(figures)
    else:
        show(figures)
