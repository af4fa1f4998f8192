"""Set-wise reads behind suppression lists, in the ledger's own SQL.

The policy logic (which rule, which list, which limit) stays in :mod:`pressure_sdk.segments`;
these methods answer its questions in model types: contact ids, scope keys, sums. Each
query is one aggregate over one rule's own window, so it scales with the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .schema import BUCKET_SHIFT

_CHUNK = 500

Scope = Literal["brand", "group", "all"]


@dataclass(slots=True, frozen=True)
class TouchFilter:
    """Which touches count: ``None`` means any value."""

    channels: frozenset[str] | None = None
    families: frozenset[str] | None = None
    brands: frozenset[str] | None = None


@dataclass(slots=True, frozen=True)
class SumFloor:
    """Only sums that could block come back: ``sum + heaviest`` above the contact's limit.

    ``fixed`` is one limit for everyone; ``tiers`` a per-tier table with its ``default``.
    """

    heaviest: float
    fixed: float | None = None
    tiers: Mapping[str, float] | None = None
    default: float | None = None


def scope_key(scope: Scope, groups: Mapping[str, str | None], brand: str) -> str:
    """The key of the scope ``brand`` falls in, as :meth:`ListQueries.cap_sums` returns it."""
    if scope == "all":
        return ""
    if scope == "group" and groups.get(brand):
        return f"g:{groups[brand]}"
    return f"b:{brand}"


def _bucket_range(since: int, until: int) -> list[int]:
    return [since >> BUCKET_SHIFT, until >> BUCKET_SHIFT]


def _filters(f: TouchFilter, alias: str = "") -> tuple[str, list[Any]]:
    sql, params = "", []
    for col, values in (("channel", f.channels), ("family", f.families), ("brand", f.brands)):
        if values is not None:
            vs = sorted(values)
            sql += f" AND {alias}{col} IN ({','.join('?' * len(vs))})"
            params += vs
    return sql, params


def _scope_sql(scope: Scope, groups: Mapping[str, str | None], alias: str = "") -> tuple[str, list[Any]]:
    """SQL for the scope a touch falls in, matching :func:`scope_key`."""
    if scope == "all":
        return "''", []
    if scope == "group":
        grouped = {b: g for b, g in groups.items() if g}
        if grouped:
            whens = " ".join("WHEN ? THEN ?" for _ in grouped)
            params: list[Any] = [x for b, g in sorted(grouped.items()) for x in (b, f"g:{g}")]
            return f"CASE {alias}brand {whens} ELSE 'b:' || {alias}brand END", params
    return f"'b:' || {alias}brand", []


def _weight_sql(weights: Mapping[str, float], alias: str = "") -> tuple[str, list[Any]]:
    if not weights:
        return f"COALESCE({alias}weight, 1.0)", []
    whens = " ".join("WHEN ? THEN ?" for _ in weights)
    return f"COALESCE({alias}weight, CASE {alias}family {whens} ELSE 1.0 END)", [
        x for name, w in sorted(weights.items()) for x in (name, w)
    ]


class ListQueries:
    """The suppression-list reads of the SQLite ledger (mixed into :class:`~pressure_sdk.ledger.Ledger`)."""

    conn: Any
    default_score: tuple[str, float]

    def paused_contacts(self, now: int) -> list[int]:
        """Contacts paused past ``now``."""
        return [cid for (cid,) in self.conn.execute("SELECT id FROM contacts WHERE paused_until > ?", (now,))]

    def low_capital_contacts(self, threshold: float) -> list[int]:
        """Contacts whose capital in the score table is below ``threshold``."""
        return [
            cid for (cid,) in self.conn.execute("SELECT contact_id FROM temp.scores WHERE capital < ?", (threshold,))
        ]

    def contact_timezones(self) -> set[str | None]:
        """Every time zone contacts have (None for contacts without one)."""
        return {z for (z,) in self.conn.execute("SELECT DISTINCT timezone FROM contacts")}

    def _limit_columns(self, attribute: str | None) -> tuple[str, list[Any]]:
        if attribute is not None:
            return ", COALESCE(s.tier, ?), json_extract(c.attributes, ?)", [
                self.default_score[0],
                f'$."{attribute}"',
            ]
        return ", COALESCE(s.tier, ?), NULL", [self.default_score[0]]

    def cap_sums(
        self,
        *,
        until: int,
        counts: TouchFilter,
        scope: Scope,
        groups: Mapping[str, str | None],
        weights: Mapping[str, float],
        since: int | None = None,
        period_starts: Mapping[str, int] | None = None,
        default_tz: str = "UTC",
        per_contact: bool = False,
        attribute: str | None = None,
        floor: SumFloor | None = None,
    ) -> Iterator[tuple[int, str, float, str | None, Any]]:
        """(contact id, scope key, weighted sum, tier, attribute) of counted touches in a period.

        The period is ``(since, until]`` (a rolling window) or, with ``period_starts``,
        from each contact's local period start (by zone, ``default_tz`` for contacts
        without one) to ``until``. With ``per_contact``, the tier and ``attribute`` of each
        contact come back too.
        """
        key_sql, key_params = _scope_sql(scope, groups, "t.")
        weight_sql, weight_params = _weight_sql(weights, "t.")
        filt_sql, filt_params = _filters(counts, "t.")
        extra_sql, extra_params = self._limit_columns(attribute) if per_contact else ("", [])
        if period_starts is not None:
            whens = " ".join("WHEN ? THEN ?" for _ in period_starts)
            cond = f"t.at >= CASE COALESCE(c.timezone, ?) {whens} END"
            cond_params: list[Any] = [default_tz, *(x for z, s in sorted(period_starts.items()) for x in (z, s))]
            first, join = min(period_starts.values()), True
        else:
            assert since is not None
            cond, cond_params, first, join = "t.at > ?", [since], since, per_contact
        having, having_params = "", []
        if floor is not None and floor.fixed is not None:
            having, having_params = f" HAVING SUM({weight_sql}) + ? > ?", [*weight_params, floor.heaviest, floor.fixed]
        elif floor is not None and floor.tiers is not None:
            whens = " ".join("WHEN ? THEN ?" for _ in floor.tiers)
            having = f" HAVING SUM({weight_sql}) + ? > CASE COALESCE(s.tier, ?) {whens} ELSE ? END"
            having_params = [
                *weight_params,
                floor.heaviest,
                self.default_score[0],
                *(x for kv in sorted(floor.tiers.items()) for x in kv),
                floor.default,
            ]
            join = True
        source = (
            "touches t JOIN contacts c ON c.id = t.contact_id LEFT JOIN temp.scores s ON s.contact_id = t.contact_id"
            if join
            else "touches t"
        )
        sql = (
            f"SELECT t.contact_id, {key_sql}, SUM({weight_sql}){extra_sql} FROM {source} "
            f"WHERE t.bucket BETWEEN ? AND ? AND {cond} AND t.at <= ?{filt_sql} "
            f"GROUP BY t.contact_id, 2{having}"
        )
        params = [
            *key_params,
            *weight_params,
            *extra_params,
            *_bucket_range(first, until),
            *cond_params,
            until,
            *filt_params,
            *having_params,
        ]
        for row in self.conn.execute(sql, params):
            yield (row[0], row[1], row[2], row[3] if per_contact else None, row[4] if per_contact else None)

    def account_limits(self, account: str, attribute: str | None) -> Iterator[tuple[int, str, Any]]:
        """(contact id, tier, attribute value) of every contact of ``account``."""
        extra_sql, extra_params = self._limit_columns(attribute)
        yield from self.conn.execute(
            f"SELECT c.id{extra_sql} FROM identities i JOIN contacts c ON c.id = i.contact_id "
            "LEFT JOIN temp.scores s ON s.contact_id = c.id WHERE i.account = ?",
            [*extra_params, account],
        )

    def gap_hits(
        self, *, since: int, until: int, counts: TouchFilter, scope: Scope, groups: Mapping[str, str | None]
    ) -> Iterator[tuple[int, str]]:
        """(contact id, scope key) of contacts with a counted touch in ``(since, until]``."""
        key_sql, key_params = _scope_sql(scope, groups)
        filt_sql, filt_params = _filters(counts)
        sql = (
            f"SELECT DISTINCT contact_id, {key_sql} FROM touches "
            f"WHERE bucket BETWEEN ? AND ? AND at > ? AND at <= ?{filt_sql}"
        )
        yield from self.conn.execute(sql, [*key_params, *_bucket_range(since, until), since, until, *filt_params])

    def events_between(
        self, since: int, until: int, types: Iterable[str]
    ) -> Iterator[tuple[int, str | None, str | None, str | None]]:
        """(contact id, channel, brand, product) of engagements of ``types`` in ``(since, until]``."""
        ts = sorted(types)
        yield from self.conn.execute(
            "SELECT contact_id, channel, brand, product FROM engagements "
            f"WHERE bucket BETWEEN ? AND ? AND at > ? AND at <= ? AND type IN ({','.join('?' * len(ts))})",
            [*_bucket_range(since, until), since, until, *ts],
        )

    def account_contacts(self, account: str, among: Iterable[int] | None = None) -> set[int]:
        """The contacts ``account`` holds (its audience and contacts with events there), or those of ``among``."""
        if among is None:
            return {
                cid for (cid,) in self.conn.execute("SELECT contact_id FROM identities WHERE account = ?", (account,))
            }
        ids = sorted(among)
        out: set[int] = set()
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            out.update(
                cid
                for (cid,) in self.conn.execute(
                    "SELECT contact_id FROM identities WHERE account = ? "
                    f"AND contact_id IN ({','.join('?' * len(chunk))})",
                    [account, *chunk],
                )
            )
        return out
