"""``experiment plan`` and ``experiment report``: holdout tests of policies (DESIGN §8)."""

from __future__ import annotations

import json

import click

from ..config import load_config
from ..experiment_config import METRICS
from ..timeutil import parse_duration, to_iso
from ..workspace import Workspace
from .base import _at, _Group, _handle_errors, cli, config_option, json_option

_METRIC_UNIT = {
    "clicks": "clicks per contact",
    "unsubscribes": "share unsubscribed",
    "complaints": "share complained",
    "revenue": "revenue per contact",
    "purchases": "purchases per contact",
}


@cli.group(cls=_Group)
def experiment() -> None:
    """Plan and read holdout tests of policies declared in [[experiments]]."""


def _horizon(value: str) -> int:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}; expected a duration such as '28d' or '4w'", param_hint="--horizon") from None


@experiment.command("plan")
@config_option
@click.option("--id", "experiment_id", metavar="ID", help="The experiment (needed when several are declared).")
@click.option(
    "--metric",
    type=click.Choice(list(METRICS)),
    help="The metric to detect a change of (default: the experiment's; opens never decide).",
)
@click.option("--horizon", default="28d", show_default=True, metavar="DURATION", help="How long the test will run.")
@click.option("--power", default=0.8, show_default=True, type=click.FloatRange(0.5, 0.99), help="Power wanted.")
@click.option("--now", "now_text", metavar="ISO", help="Read the baseline as of this instant.")
@json_option
@_handle_errors
def plan_cmd(
    config_path: str,
    experiment_id: str | None,
    metric: str | None,
    horizon: str,
    power: float,
    now_text: str | None,
    as_json: bool,
) -> None:
    """Print the minimum detectable effect of each arm before launch.

    The baseline is the metric over the last horizon among the client's contacts; each
    arm is compared with the control at 5 % two-sided, with the arms' shares of today's
    contacts. Rates (clicks, unsubscribes, complaints: share of contacts with at least
    one) use Cohen's h; revenue its mean and spread per contact (statsmodels power).
    """
    from .. import experiments

    cfg = load_config(config_path)
    h = _horizon(horizon)
    with Workspace(cfg) as ws:
        now = _at(cfg, now_text) or ws.now()
        p = experiments.plan(ws.ledger, cfg, experiment_id, now, metric=metric, horizon=h, power=power)
    if as_json:
        click.echo(json.dumps(p.to_dict(), indent=2))
        return
    days = h / 86400
    click.echo(f"experiment {p.id} (client {p.client}), metric {p.metric}, horizon {days:g} days")
    click.echo(
        f"  contacts: {p.contacts:,}; baseline over the last {days:g} days: {p.baseline:.4g} ({p.baseline_kind})"
    )
    for a in p.arms:
        rel = "not detectable" if a.mde_relative == float("inf") else f"{a.mde_relative:+.1%}"
        click.echo(
            f"  {a.arm}: {a.contacts:,} contacts vs {a.control_contacts:,} in the control: "
            f"minimum detectable change {rel} ({a.mde_absolute:.4g}) at {p.power:.0%} power, 5 % two-sided"
        )


@experiment.command("report")
@config_option
@click.option("--id", "experiment_id", metavar="ID", help="The experiment (needed when several are declared).")
@click.option("--now", "now_text", metavar="ISO", help="Report as of this instant.")
@json_option
@_handle_errors
def report_cmd(config_path: str, experiment_id: str | None, now_text: str | None, as_json: bool) -> None:
    """Per-arm KPIs per contact and each arm's difference with the control.

    Clicks are the primary response (opens never decide). For each metric: the
    difference with its 95 % interval, the interval after variance reduction with the
    pre-period engagement of the same contacts (CUPED, with the share of variance
    removed) and the always-valid interval (safe to read every day). Also: the
    sample-ratio-mismatch alarm and arms stopped for complaints (checked first, and
    recorded in the ledger).
    """
    from .. import experiments

    cfg = load_config(config_path)
    with Workspace(cfg) as ws:
        now = _at(cfg, now_text) or ws.now()
        r = experiments.report(ws.ledger, cfg, experiment_id, now)
    if as_json:
        click.echo(json.dumps(r.to_dict(), indent=2))
        return
    tz = cfg.workspace.timezone
    click.echo(
        f"experiment {r.id} (client {r.client}) from {(to_iso(r.start, tz) or '')[:10]}, "
        f"{r.days:.1f} days, {r.contacts:,} contacts, control {r.control}, primary metric {r.metric}"
    )
    srm = "ALARM: arm sizes do not match their shares" if r.srm_alarm else "ok"
    click.echo(f"  sample ratio: chi-square p = {r.srm_p:.3g} ({srm})")
    for a in r.arms:
        rules = ", ".join(f"{rid} {json.dumps(ch)}" for rid, ch in a.overrides.items()) or "the workspace's rules"
        click.echo(f"  arm {a.name} ({a.share:.0%}): {a.contacts:,} contacts, {rules}")
        if a.stop is not None:
            click.echo(f"    STOPPED on {(to_iso(a.stop.at, tz) or '')[:10]}: {a.stop.reason}")
        click.echo(
            f"    messages {a.messages_per_contact:.2f}/contact; "
            + "; ".join(f"{_METRIC_UNIT[m]} {v:.4g}" for m, v in a.means.items())
        )
        for m, e in a.effects.items():
            mark = " *" if e.significant else ""
            click.echo(
                f"    {m:<12} diff {e.diff.estimate:+.4g} [{e.diff.low:+.4g}, {e.diff.high:+.4g}]  "
                f"CUPED {e.cuped.estimate:+.4g} [{e.cuped.low:+.4g}, {e.cuped.high:+.4g}] "
                f"(variance -{e.variance_reduction:.0%})  always-valid [{e.sequential.low:+.4g}, "
                f"{e.sequential.high:+.4g}]{mark}"
            )
    click.echo("  * the always-valid 95 % interval excludes 0 (safe to read every day)")


__all__ = ["experiment"]
