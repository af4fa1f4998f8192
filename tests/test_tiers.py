from pressure_sdk.config import DEFAULT_TIERS, ScoringConfig, TierConfig, ToleranceConfig, parse_config
from pressure_sdk.ledger import Ledger
from pressure_sdk.models import Batch, Engagement, Touch
from pressure_sdk.tiers import assign, score_all

NOW = 1_790_000_000
DAY = 86400
SCORING = ScoringConfig()
TOL = ToleranceConfig()


def tier_of(first_seen: int | None, events: list[tuple[int, str]]) -> str:
    return assign(first_seen, events, NOW, DEFAULT_TIERS, SCORING, TOL).tier


def test_default_tiers_follow_reactivity() -> None:
    old = NOW - 400 * DAY
    assert tier_of(NOW - 5 * DAY, []) == "new"
    assert tier_of(old, [(NOW - DAY, "click"), (NOW - 2 * DAY, "click")]) == "engaged"
    assert tier_of(old, [(NOW - 60 * DAY, "click")]) == "active"
    assert tier_of(old, [(NOW - 150 * DAY, "open")]) == "dormant"
    assert tier_of(old, [(NOW - 300 * DAY, "click")]) == "inactive"
    assert tier_of(old, []) == "inactive"


def test_clicks_weigh_more_than_opens() -> None:
    old = NOW - 400 * DAY
    opens = [(NOW - i * DAY, "open") for i in range(1, 6)]  # 5 opens = 2.5 points
    assert tier_of(old, opens) == "active"
    assert tier_of(old, [(NOW - DAY, "click"), (NOW - 2 * DAY, "click")]) == "engaged"  # 6 points
    heavy_opens = ScoringConfig(weights={"open": 3, "click": 3})
    assert assign(old, opens, NOW, DEFAULT_TIERS, heavy_opens, TOL).tier == "engaged"


def test_custom_tiers_first_match_wins() -> None:
    tiers = [TierConfig(name="vip", min_score=10, lookback=7 * DAY), TierConfig(name="rest")]
    events = [(NOW - DAY, "purchase"), (NOW - 2 * DAY, "purchase")]
    assert assign(None, events, NOW, tiers, SCORING, TOL).tier == "vip"
    assert assign(None, events[:1], NOW, tiers, SCORING, TOL).tier == "rest"


def test_tolerance_capital_is_spent_and_rebuilt() -> None:
    s = assign(None, [(NOW - 10 * DAY, "complaint"), (NOW - 5 * DAY, "incident")], NOW, DEFAULT_TIERS, SCORING, TOL)
    assert s.capital == 10 and s.care
    s = assign(None, [(NOW - 10 * DAY, "complaint"), (NOW - 5 * DAY, "purchase")], NOW, DEFAULT_TIERS, SCORING, TOL)
    assert s.capital == 50 and not s.care
    # never above the start, events outside the lookback are forgotten
    s = assign(None, [(NOW - 400 * DAY, "complaint"), (NOW - DAY, "click")], NOW, DEFAULT_TIERS, SCORING, TOL)
    assert s.capital == 100


def test_score_all_scores_every_contact_as_of_its_time_without_writing_the_file(tmp_path) -> None:
    cfg = parse_config({})
    led = Ledger(tmp_path / "l.db")
    touches = [Touch(f"t{i}", f"c{i}@x.com", "email", "a", "marketing", NOW - 300 * DAY) for i in range(3)]
    engagements = [
        Engagement("e1", "c1@x.com", "click", NOW - DAY),
        Engagement("e2", "c1@x.com", "click", NOW - DAY + 1),
    ]
    led.ingest(Batch(touches=touches, engagements=engagements), account="a")
    ids = [led.contact(f"c{i}@x.com").id for i in range(3)]  # type: ignore[union-attr]
    assert led.score_of(ids[0]) is None
    assert score_all(led, NOW, cfg.tiers, cfg.scoring, cfg.tolerance) == 3
    assert [led.score_of(i)[0] for i in ids] == ["inactive", "engaged", "inactive"]  # type: ignore[index]
    # the same ledger a year later: the clicks have aged out
    assert score_all(led, NOW + 365 * DAY, cfg.tiers, cfg.scoring, cfg.tolerance) == 3
    assert led.score_of(ids[1])[0] == "inactive"  # type: ignore[index]
    # scores live in the connection only: another connection sees no score table
    other = Ledger(tmp_path / "l.db")
    assert other.score_of(ids[1]) is None
    assert not other.conn.execute("SELECT name FROM sqlite_master WHERE name = 'scores'").fetchall()
