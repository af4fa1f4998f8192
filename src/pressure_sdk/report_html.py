"""The monthly report as one self-contained HTML file: inline CSS and inline SVG charts, no script.

Nothing in the file points anywhere (no URL, no font, no image file): it opens the same
offline, in a mail attachment or on a shared drive. The input is a :class:`ReportData`;
experiments and recommendations are any objects with ``to_dict()`` (and, if they want
their own layout, ``to_html()`` returning an HTML fragment they escaped themselves), so
later measurements plug in without changing this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any, Protocol, runtime_checkable

from .measure import FatigueCurve, KpiRow, Measurement, Rate, level_label
from .timeutil import to_iso

#: one colour per tier, in the order tiers are usually declared; others cycle through EXTRA
TIER_COLOURS = {
    "new": "#1f77b4",
    "engaged": "#2ca02c",
    "active": "#ff7f0e",
    "dormant": "#9467bd",
    "inactive": "#d62728",
}
EXTRA_COLOURS = ("#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f")
#: bars of list sizes
LIST_COLOUR = "#3b6ea5"


@runtime_checkable
class ReportItem(Protocol):
    """An experiment, a recommendation or any other result a report can show."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields: the report's JSON, and its table when there is no ``to_html``."""
        ...


@dataclass(slots=True, frozen=True)
class ListSize:
    """A suppression list and how many contacts the platform confirmed in it."""

    client: str
    account: str
    list: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return {"client": self.client, "account": self.account, "list": self.list, "size": self.size}


@dataclass(slots=True)
class ReportData:
    """Everything one report shows, for one client (or all) and one month."""

    title: str
    month: str
    as_of: int
    measurement: Measurement
    client: str | None = None
    time_zone: str = "UTC"
    lists: list[ListSize] = field(default_factory=list)
    #: holdout tests of policies (DESIGN §8), each with ``to_dict()`` (and optionally ``to_html()``)
    experiments: list[ReportItem] = field(default_factory=list)
    #: monthly recommendations per tier, same hooks
    recommendations: list[ReportItem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON: the measurement, list sizes, experiments and recommendations."""
        return {
            "title": self.title,
            "client": self.client,
            "month": self.month,
            "as_of": to_iso(self.as_of, self.time_zone),
            "measurement": self.measurement.to_dict(),
            "lists": [x.to_dict() for x in self.lists],
            "experiments": [x.to_dict() for x in self.experiments],
            "recommendations": [x.to_dict() for x in self.recommendations],
        }


def tier_colour(tier: str, order: Sequence[str]) -> str:
    """The colour of a tier's line and band."""
    if tier in TIER_COLOURS:
        return TIER_COLOURS[tier]
    others = [t for t in order if t not in TIER_COLOURS]
    return EXTRA_COLOURS[others.index(tier) % len(EXTRA_COLOURS)] if tier in others else EXTRA_COLOURS[-1]


# -- charts --------------------------------------------------------------------------------


@dataclass(slots=True)
class Series:
    """One line of a chart: (x, y, low, high) points, with an interval band when low/high are set."""

    name: str
    colour: str
    points: list[tuple[float, float, float | None, float | None]]


def _ceiling(value: float) -> float:
    """The top of an axis: four equal steps of a round size."""
    if value <= 0:
        return 1.0
    raw = value / 4
    exp = 1.0
    while exp * 10 <= raw:
        exp *= 10
    while exp > raw:
        exp /= 10
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * exp >= raw:
            return 4 * m * exp
    return 40 * exp


def _fmt(value: float, percent: bool) -> str:
    if percent:
        pct = value * 100
        return f"{pct:.0f} %" if pct >= 10 or pct == 0 else f"{pct:.1f} %"
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    percent: bool = True,
    width: int = 520,
    height: int = 300,
    x_ticks: Sequence[tuple[float, str]] = (),
) -> str:
    """An SVG line chart with shaded 95 % interval bands and a legend."""
    left, right, top, bottom = 58, 12, 30, 62
    pw, ph = width - left - right, height - top - bottom
    xs = [p[0] for s in series for p in s.points] or [0.0, 1.0]
    ys = [v for s in series for p in s.points for v in (p[1], p[3]) if v is not None] or [0.0]
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x1 = x0 + 1
    ymax = _ceiling(max(ys))

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + ph - min(max(y, 0.0), ymax) / ymax * ph

    out = [
        f'<svg class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="18" class="ct">{escape(title)}</text>',
    ]
    for i in range(5):
        v = ymax * i / 4
        y = sy(v)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{_fmt(v, percent)}</text>')
    for x, label in [t for t in x_ticks if x0 <= t[0] <= x1] or [(x, f"{x:g}") for x in sorted(set(xs))]:
        out.append(
            f'<text x="{sx(x):.1f}" y="{top + ph + 16}" class="tick" text-anchor="middle">{escape(label)}</text>'
        )
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" class="axis"/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" class="axis"/>')
    out.append(
        f'<text x="{left + pw / 2:.1f}" y="{top + ph + 34}" class="lab" text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append(
        f'<text transform="translate(14 {top + ph / 2:.1f}) rotate(-90)" class="lab" text-anchor="middle">'
        f"{escape(y_label)}</text>"
    )
    for s in series:
        band = [p for p in s.points if p[2] is not None and p[3] is not None]
        if len(band) >= 2:
            upper = " ".join(f"{sx(p[0]):.1f},{sy(p[3] or 0.0):.1f}" for p in band)
            lower = " ".join(f"{sx(p[0]):.1f},{sy(p[2] or 0.0):.1f}" for p in reversed(band))
            out.append(f'<polygon points="{upper} {lower}" fill="{s.colour}" fill-opacity="0.18" stroke="none"/>')
    for s in series:
        if not s.points:
            continue
        pts = " ".join(f"{sx(p[0]):.1f},{sy(p[1]):.1f}" for p in s.points)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{s.colour}" stroke-width="2.5"/>')
        for p in s.points:
            out.append(f'<circle cx="{sx(p[0]):.1f}" cy="{sy(p[1]):.1f}" r="3.5" fill="{s.colour}"/>')
    lx = left
    for s in series:
        out.append(f'<rect x="{lx}" y="{height - 16}" width="14" height="8" fill="{s.colour}"/>')
        out.append(f'<text x="{lx + 18}" y="{height - 8}" class="tick">{escape(s.name)}</text>')
        lx += 26 + 7 * len(s.name)
    out.append("</svg>")
    return "".join(out)


def bar_chart(bars: Sequence[tuple[str, float]], *, title: str, colour: str = LIST_COLOUR, width: int = 520) -> str:
    """A horizontal SVG bar chart (labels on the left, values at the bars' ends)."""
    row, left, top = 22, 220, 30
    height = top + row * max(len(bars), 1) + 10
    vmax = max((v for _, v in bars), default=0.0) or 1.0
    pw = width - left - 70
    out = [
        f'<svg class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="8" y="18" class="ct">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        w = max(value / vmax * pw, 1.0 if value else 0.0)
        out.append(f'<text x="{left - 8}" y="{y + 14}" class="tick" text-anchor="end">{escape(label)}</text>')
        out.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 7}" fill="{colour}"/>')
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + 14}" class="tick">{value:,.0f}</text>')
    out.append("</svg>")
    return "".join(out)


# -- the document --------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2430;
margin:0;background:#f5f6f8}
main{max-width:1120px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid #e3e6ea;
padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.sub{color:#5b6573;margin:0 0 12px}.note{color:#5b6573;font-size:12.5px;max-width:900px}
.charts{display:flex;flex-wrap:wrap;gap:14px}
.chart{background:#fff;border:1px solid #e3e6ea;border-radius:6px}
.chart .ct{font-weight:600;font-size:13px;fill:#1d2430}.chart .tick{font-size:11px;fill:#5b6573}
.chart .lab{font-size:11.5px;fill:#3a4350}.chart .grid{stroke:#eceef1}.chart .axis{stroke:#9aa3ad}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 10px}
th,td{padding:3px 8px;border-bottom:1px solid #eceef1;text-align:right;white-space:nowrap}
th{background:#f0f2f5;font-weight:600}td.l,th.l{text-align:left}
.ci{color:#7a8490;font-size:11px}.empty{color:#7a8490;font-style:italic}
.wide{overflow-x:auto}
.tag{display:inline-block;padding:0 6px;border-radius:3px;background:#fdecea;color:#a3231a;font-size:11.5px}
"""


def _rate(r: Rate | None) -> str:
    if r is None or r.value is None:
        return "–"
    ci = f'<br><span class="ci">{r.low * 100:.2f}–{r.high * 100:.2f}</span>' if r.low is not None and r.high else ""
    return f"{r.value * 100:.2f} %{ci}"


def _per1000(v: Any) -> str:
    if v.value is None:
        return "–"
    ci = f'<br><span class="ci">{v.low:,.1f}–{v.high:,.1f}</span>' if v.low is not None and v.high is not None else ""
    return f"{v.value:,.1f}{ci}"


def _kpi_table(rows: Sequence[KpiRow]) -> str:
    head = (
        "<tr><th class=l>tier</th><th>level</th><th>messages</th><th>contacts</th><th>open</th><th>click</th>"
        "<th>response</th><th>unsubscribe</th><th>complaint</th><th>purchases / 1,000</th>"
        "<th>revenue / 1,000</th><th>attrition</th><th>retention</th></tr>"
    )
    body = []
    for k in rows:
        body.append(
            f"<tr><td class=l>{escape(k.tier)}</td><td>{escape(level_label(k.level))}</td>"
            f"<td>{k.messages:,}</td><td>{k.contacts:,}</td><td>{_rate(k.open_rate)}</td>"
            f"<td>{_rate(k.click_rate)}</td><td>{_rate(k.response_rate)}</td><td>{_rate(k.unsubscribe_rate)}</td>"
            f"<td>{_rate(k.complaint_rate)}</td><td>{_per1000(k.purchases_per_1000)}</td>"
            f"<td>{_per1000(k.revenue_per_1000)}</td><td>{_rate(k.attrition)}</td><td>{_rate(k.retention)}</td></tr>"
        )
    return f"<div class=wide><table>{head}{''.join(body)}</table></div>"


def _curve_series(curves: Sequence[FatigueCurve], metric: str, order: Sequence[str]) -> list[Series]:
    out = []
    for c in curves:
        pts: list[tuple[float, float, float | None, float | None]] = []
        for p in c.points:
            r = getattr(p, metric)
            if r.value is not None and p.messages >= 20:
                pts.append((float(p.level), float(r.value), r.low, r.high))
        if pts:
            out.append(Series(c.tier, tier_colour(c.tier, order), pts))
    return out


def _curve_table(curves: Sequence[FatigueCurve]) -> str:
    rows = []
    for c in curves:
        s = c.slopes.get("response")
        k = c.slopes.get("click")
        slope = f"{s.estimate:+.3f} <span class=ci>[{s.low:+.3f}, {s.high:+.3f}]</span>" if s else "–"
        cslope = f"{k.estimate:+.3f} <span class=ci>[{k.low:+.3f}, {k.high:+.3f}]</span>" if k else "–"
        sat = "–" if c.saturation_level is None else level_label(c.saturation_level)
        above = _rate(c.above_saturation)
        burnout = (
            ' <span class="tag">most contacts above saturation</span>'
            if c.above_saturation is not None and (c.above_saturation.value or 0) > 0.5
            else ""
        )
        rows.append(
            f"<tr><td class=l>{escape(c.tier)}</td><td>{sum(p.messages for p in c.points):,}</td>"
            f"<td>{slope}</td><td>{cslope}</td><td>{'–' if c.reference_level is None else c.reference_level}</td>"
            f"<td>{sat}</td><td>{above}{burnout}</td></tr>"
        )
    head = (
        "<tr><th class=l>tier</th><th>messages</th><th>response slope (log-odds / level)</th>"
        "<th>click slope</th><th>reference level</th><th>saturation level</th>"
        "<th>contacts at or above it (last month)</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _item(item: ReportItem) -> str:
    html = getattr(item, "to_html", None)
    if callable(html):
        return str(html())
    rows = "".join(
        f"<tr><th class=l>{escape(str(k))}</th><td class=l>{escape(_plain(v))}</td></tr>"
        for k, v in item.to_dict().items()
    )
    return f"<table>{rows}</table>"


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "; ".join(_plain(v) for v in value)
    return "–" if value is None else str(value)


def render_html(data: ReportData) -> str:
    """The whole report as one HTML document (inline CSS and SVG; no script, no URL)."""
    m = data.measurement
    tiers_order: list[str] = []
    for k in m.kpis:
        if k.tier not in tiers_order:
            tiers_order.append(k.tier)
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(data.title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{escape(data.title)}</h1>",
        f'<p class="sub">Month {escape(data.month)} · client {escape(data.client or "all")} · '
        f"as of {escape(to_iso(data.as_of, data.time_zone) or '')} · fatigue curves over "
        f"{escape(', '.join(m.months))}</p>",
    ]
    scope = ", ".join(m.families or ["every family"]) + (" on " + ", ".join(m.channels) if m.channels else "")
    parts.append(
        f'<p class="note">Messages measured: {escape(scope)}. Pressure level: weighted touches of the contact in the '
        "7 days up to and including the send, every brand and channel of the client (exempt families too). "
        "Response: a click or purchase on the same brand within 7 days after. Opens are shown, never used to "
        "decide. Tier: as of the month's start. Intervals: 95 % (Wilson for rates; normal for per-1,000 figures; "
        "logistic regression for slopes).</p>"
    )
    for client in m.clients:
        curves = [c for c in m.curves if c.client == client]
        parts.append(f"<h2>Fatigue curves — {escape(client)}</h2><div class=charts>")
        levels = sorted({p.level for c in curves for p in c.points})
        ticks = [(float(lv), level_label(lv)) for lv in levels]
        for metric, label in (("response", "response rate"), ("unsubscribe", "unsubscribe rate")):
            parts.append(
                line_chart(
                    _curve_series(curves, metric, tiers_order),
                    title=f"{label.capitalize()} by pressure level, per tier",
                    x_label="pressure level at send time (weighted touches in 7 days)",
                    y_label=label,
                    x_ticks=ticks,
                )
            )
        revenue = _curve_series(curves, "revenue_per_1000", tiers_order)
        if not any(y for s in revenue for _, y, _, _ in s.points):
            parts.append('<p class="note">No purchase amount recorded for these messages: no revenue curve.</p>')
        else:
            parts.append(
                line_chart(
                    revenue,
                    title="Revenue per 1,000 messages by pressure level",
                    x_label="pressure level at send time",
                    y_label="revenue / 1,000 messages",
                    percent=False,
                    x_ticks=ticks,
                )
            )
        parts.append("</div>")
        parts.append(_curve_table(curves))
        rows = [k for k in m.kpis if k.client == client and k.month == data.month]
        parts.append(f"<h3>KPIs of {escape(data.month)} per tier and pressure level</h3>")
        if not m.complete.get(data.month, False):
            parts.append(
                '<p class="note">This month\'s last messages are still within their 7-day follow-up, '
                "or the month is not over: responses and attrition are not final.</p>"
            )
        parts.append(_kpi_table(rows) if rows else '<p class="empty">No message measured this month.</p>')
    parts.append("<h2>Suppression lists</h2>")
    if data.lists:
        bars = [(f"{x.account} / {x.list}", float(x.size)) for x in data.lists]
        parts.append(bar_chart(bars, title="Contacts per suppression list (last confirmed push)"))
    else:
        parts.append('<p class="empty">No list pushed yet.</p>')
    for name, items, empty in (
        ("Experiments", data.experiments, "No experiment in this report."),
        ("Recommendations", data.recommendations, "No recommendation in this report."),
    ):
        parts.append(f"<h2>{name}</h2>")
        parts.extend(_item(i) for i in items)
        if not items:
            parts.append(f'<p class="empty">{empty}</p>')
    parts.append("</main></body></html>")
    return "".join(parts)


__all__ = ["ListSize", "ReportData", "ReportItem", "Series", "bar_chart", "line_chart", "render_html"]
