"""Property tests (hypothesis): plan() and reserve() never accept a call the fr-telemarketing
preset forbids, checked by code written here from the décret's words, not by the policy.

Over random call plans from Christmas 2026 to February 2027 (two holidays on weekdays, a
year boundary), random earlier attempts and refusals, by brands of one legal entity and
one other: no accepted call outside Monday-Friday 10-13h and 14-20h in Paris or on a public
holiday; never a fifth attempt by one professional in any 30 days; none within 60 days of a
refusal to that professional.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import holidays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pressure_sdk.config import parse_config
from pressure_sdk.ledger import Ledger
from pressure_sdk.models import Batch, Candidate, ContactUpdate, Engagement, Touch
from pressure_sdk.workspace import Workspace

PARIS = ZoneInfo("Europe/Paris")
D = 86400
START = int(datetime(2026, 12, 20, 0, 0, tzinfo=PARIS).timestamp())
SPAN = 60 * D
BRANDS = ["a", "b", "c"]
#: who each brand calls for: a and b share a legal entity
PRO = {"a": "acme-sas", "b": "acme-sas", "c": "c"}
FAMILIES = ["marketing", "trigger", "service"]  # service is exempt: never blocked, never an attempt
NUMBER = "+33612345678"
FR_HOLIDAYS = holidays.country_holidays("FR", years=[2026, 2027])
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def workspace() -> Workspace:
    cfg = parse_config(
        {
            "brands": {
                "a": {"presets": ["fr-telemarketing"], "legal_entity": "acme-sas"},
                "b": {"presets": ["fr-telemarketing"], "legal_entity": "acme-sas"},
                "c": {"presets": ["fr-telemarketing"]},
            }
        }
    )
    ws = Workspace(cfg, Ledger(":memory:"))
    ws.ledger.ingest(Batch(contacts=[ContactUpdate("ana@example.fr", phones=(NUMBER,))]), account="crm")
    return ws


def in_hours(t: int) -> bool:
    local = datetime.fromtimestamp(t, PARIS)
    minute = local.hour * 60 + local.minute
    return (
        local.weekday() < 5
        and local.date() not in FR_HOLIDAYS
        and (10 * 60 <= minute < 13 * 60 or 14 * 60 <= minute < 20 * 60)
    )


def check(calls: list[tuple[int, str]], accepted: list[tuple[int, str]], refusals: list[tuple[int, str]]) -> None:
    """``calls``: every prospecting attempt (history and accepted); ``accepted``: those to judge."""
    for t, brand in accepted:
        assert in_hours(t), f"accepted call at {datetime.fromtimestamp(t, PARIS)} is outside the allowed hours"
        pro = PRO[brand]
        mine = sorted(x for x, b in calls if PRO[b] == pro)
        # every 30-day window holding this call: it is enough to end them at each attempt
        for end in mine:
            if end - 30 * D < t <= end or end == t:
                n = sum(1 for x in mine if end - 30 * D < x <= end)
                assert n <= 4, f"{n} attempts by {pro} in the 30 days to {datetime.fromtimestamp(end, PARIS)}"
        for r, rb in refusals:
            if PRO[rb] == pro:
                assert not (r <= t < r + 60 * D), f"call {t - r}s after a refusal to {pro}"


history_calls = st.lists(st.tuples(st.integers(START - 40 * D, START - 1), st.sampled_from(BRANDS)), max_size=5)
#: refusals whose 60 days end in the first week of the plan, or during it
refusals_st = st.lists(
    st.tuples(st.integers(START - 62 * D, START - 55 * D) | st.integers(START, START + SPAN), st.sampled_from(BRANDS)),
    max_size=2,
)
#: days of the plan: the first week (refusals ending), Christmas and New Year's Day (Fridays), or any
_DAYS = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13]) | st.integers(0, SPAN // D - 1)
#: minutes of the day: the windows' edges, or any
_MINUTES = st.sampled_from([599, 600, 601, 779, 780, 839, 840, 1199, 1200, 660]) | st.integers(0, 1439)
candidates_st = st.lists(
    st.tuples(
        st.builds(lambda d, m: _at(d, m), _DAYS, _MINUTES),
        st.sampled_from(BRANDS),
        st.sampled_from(FAMILIES),
    ),
    min_size=1,
    max_size=12,
)


def _at(day: int, minute: int) -> int:
    """Wall-clock minute ``minute`` of the plan's day ``day`` in Paris (day 0: Sunday 20 December 2026)."""
    base = datetime.fromtimestamp(START + day * D + 12 * 3600, PARIS).date()
    return int(datetime(base.year, base.month, base.day, minute // 60, minute % 60, tzinfo=PARIS).timestamp())


def _seed(ws: Workspace, hist: list[tuple[int, str]], refusals: list[tuple[int, str]]) -> None:
    ws.ledger.ingest(
        Batch(
            touches=[Touch(f"h{i}", "", "call", b, "marketing", t, phone=NUMBER) for i, (t, b) in enumerate(hist)],
            engagements=[
                Engagement(f"r{i}", "", "call_refused", t, "call", b, phone=NUMBER) for i, (t, b) in enumerate(refusals)
            ],
        ),
        account="dialer",
    )


@SETTINGS
@given(hist=history_calls, refusals=refusals_st, cands=candidates_st)
def test_plan_never_accepts_a_forbidden_call(
    hist: list[tuple[int, str]], refusals: list[tuple[int, str]], cands: list[tuple[int, str, str]]
) -> None:
    with workspace() as ws:
        _seed(ws, hist, refusals)
        plan = [Candidate("", "call", b, f, t, candidate_id=f"c{i}", phone=NUMBER) for i, (t, b, f) in enumerate(cands)]
        decisions = ws.plan(plan)
        accepted = [(d.candidate.at, d.candidate.brand) for d in decisions if d.allowed and not d.exempt]
        check(hist + accepted, accepted, refusals)
        assert all(d.allowed for d in decisions if d.exempt)


@SETTINGS
@given(hist=history_calls, refusals=refusals_st, cands=candidates_st)
def test_reserve_never_records_a_forbidden_call(
    hist: list[tuple[int, str]], refusals: list[tuple[int, str]], cands: list[tuple[int, str, str]]
) -> None:
    with workspace() as ws:
        _seed(ws, hist, refusals)
        accepted: list[tuple[int, str]] = []
        for t, b, f in sorted(cands):
            d = ws.reserve("", "call", b, f, t, phone=NUMBER)
            if d.allowed and not d.exempt:
                accepted.append((t, b))
        check(hist + accepted, accepted, refusals)


# -- the call lists agree with the per-contact evaluation ----------------------------------

NOW = int(datetime(2026, 11, 17, 11, 0, tzinfo=PARIS).timestamp())


@st.composite
def people(draw: st.DrawFn) -> list[dict[str, object]]:
    out = []
    for i in range(draw(st.integers(1, 6))):
        out.append(
            {
                "email": f"p{i}@example.fr",
                "phone": f"+3361234{i:04d}",
                # often enough four attempts by one professional in 30 days
                "calls": draw(
                    st.lists(
                        st.tuples(st.integers(NOW - 25 * D, NOW), st.sampled_from(["a", "a", "b", "c"])), max_size=7
                    )
                ),
                "refusals": draw(
                    st.lists(st.tuples(st.integers(NOW - 70 * D, NOW), st.sampled_from(BRANDS)), max_size=1)
                ),
                "listed": draw(st.none() | st.integers(NOW - 20 * D, NOW + D)),
                "contract": draw(st.booleans()),
                "consent": draw(st.none() | st.integers(NOW - 30 * D, NOW + D)),
                "source": draw(st.sampled_from(["", "web form"])),
            }
        )
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people())
def test_the_call_lists_agree_with_each_contacts_evaluation(crowd: list[dict[str, object]]) -> None:
    from pressure_sdk.explain import membership
    from pressure_sdk.models import Opposition
    from pressure_sdk.segments import ListKey, compute_lists

    cfg = parse_config(
        {
            "workspace": {"timezone": "Europe/Paris"},
            "brands": {
                "a": {"presets": ["fr-telemarketing"], "legal_entity": "acme-sas"},
                "b": {"presets": ["fr-telemarketing"], "legal_entity": "acme-sas"},
                "c": {"presets": ["fr-telemarketing"]},
            },
            "accounts": [
                {
                    "name": "dialer",
                    "connector": "files",
                    "brand": "a",
                    "lists": [{"name": "a-calls", "channel": "call"}],
                },
                {
                    "name": "other",
                    "connector": "files",
                    "brand": "c",
                    "lists": [{"name": "c-calls", "channel": "call"}],
                },
            ],
        }
    )
    with Workspace(cfg, Ledger(":memory:")) as ws:
        for p in crowd:
            attrs: dict[str, object] = {"ongoing_contract": "yes"} if p["contract"] else {}
            if p["consent"] is not None:
                attrs["call_consent_at"] = datetime.fromtimestamp(p["consent"], PARIS).isoformat()  # type: ignore[arg-type]
                if p["source"]:
                    attrs["call_consent_source"] = p["source"]
            phone = str(p["phone"])
            for account in ("dialer", "other"):
                ws.ledger.ingest(
                    Batch(contacts=[ContactUpdate(str(p["email"]), attributes=attrs, phones=(phone,))]), account=account
                )
            ws.ledger.ingest(
                Batch(
                    touches=[
                        Touch(f"{phone}-{i}", "", "call", b, "marketing", t, phone=phone)
                        for i, (t, b) in enumerate(p["calls"])  # type: ignore[arg-type]
                    ],
                    engagements=[
                        Engagement(f"{phone}-r{i}", "", "call_refused", t, "call", b, phone=phone)
                        for i, (t, b) in enumerate(p["refusals"])  # type: ignore[arg-type]
                    ],
                    oppositions=[] if p["listed"] is None else [Opposition(phone, p["listed"], "x")],  # type: ignore[arg-type]
                ),
                account="dialer",
            )
        lists = compute_lists(ws.ledger, ws.policy, ws.config.accounts, NOW)
        for account, name in (("dialer", "a-calls"), ("other", "c-calls")):
            members = {c.email for c in ws.ledger.contacts_by_id(lists[ListKey(account, name)]).values()}
            expected = {str(p["email"]) for p in crowd if membership(ws, str(p["email"]), name, at=NOW).on_list}
            assert members == expected
