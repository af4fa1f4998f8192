"""Candidate files for ``pressure-sync plan``: read, validate, write the decisions."""

from __future__ import annotations

import csv
import errno
import os
import secrets
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import InputError
from .models import Candidate, Decision, normalize_email
from .phones import normalize_phone
from .timeutil import parse_instant, to_iso

REQUIRED = ("candidate_id", "email", "channel", "brand", "family", "planned_at")
OPTIONAL = ("weight", "value", "product", "phone")


def read_candidates(path: str | Path, default_tz: str, phone_region: str | None = None) -> list[Candidate]:
    """Parse a candidates CSV; a bad row raises InputError naming the file, line and column.

    A ``phone`` column may name the contact instead of (or besides) ``email``: numbers
    come back in E.164 (``phone_region`` reads national ones).
    """
    p = Path(path)
    try:
        fh = p.open(newline="", encoding="utf-8")
    except OSError as exc:
        msg = f"{p}: cannot read candidates file: {exc.strerror}"
        raise InputError(msg) from None
    out: list[Candidate] = []
    seen: set[str] = set()
    with fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        # a call may name its contact by number: email or phone, or both
        missing = [c for c in REQUIRED if c not in header and not (c == "email" and "phone" in header)]
        if missing:
            msg = (
                f"{p}:1: missing column(s) {', '.join(missing)}; "
                f"expected {', '.join(REQUIRED)} (+ optional {', '.join(OPTIONAL)})"
            )
            raise InputError(msg)
        for row in reader:
            line = reader.line_num

            def bad(col: str, expected: str, line: int = line, row: dict[str, str] = row) -> InputError:
                return InputError(f"{p}:{line}: {col}: expected {expected}, got {row.get(col)!r}")

            phone = (row.get("phone") or "").strip() or None
            for col in REQUIRED:
                if not (row.get(col) or "").strip() and not (col == "email" and phone):
                    raise bad(col, "a value" if col != "email" or "phone" not in header else "an email or a phone")
            cid = row["candidate_id"].strip()
            if cid in seen:
                raise bad("candidate_id", "an id not used on an earlier line")
            seen.add(cid)
            email = normalize_email(row.get("email") or "")
            if email and "@" not in email:
                raise bad("email", "an email address")
            if phone is not None:
                try:
                    phone = normalize_phone(phone, phone_region)
                except ValueError:
                    raise bad("phone", "a phone number such as +33612345678") from None
            try:
                at = parse_instant(row["planned_at"], default_tz)
            except ValueError:
                raise bad("planned_at", "an ISO 8601 timestamp") from None
            weight = _number(row.get("weight"), bad, "weight")
            value = _number(row.get("value"), bad, "value")
            out.append(
                Candidate(
                    email,
                    row["channel"].strip(),
                    row["brand"].strip(),
                    row["family"].strip(),
                    at,
                    weight,
                    cid,
                    value or 0.0,
                    (row.get("product") or "").strip() or None,
                    phone,
                )
            )
    return out


def _number(raw: str | None, bad, col: str) -> float | None:  # type: ignore[no-untyped-def]
    if raw is None or not raw.strip():
        return None
    try:
        v = float(raw)
    except ValueError:
        raise bad(col, "a number") from None
    if v < 0:
        raise bad(col, "a number >= 0")
    return v


def write_plan(path: str | Path, decisions: Sequence[Decision], tz: str) -> None:
    """Write the candidates with ``decision`` and ``reasons``, atomically.

    The file is written under a temporary name next to ``path`` and renamed over it, so
    a reader never sees half a plan. Its mode is 0666 less the process umask, like any
    file the process creates.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(p)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow([*REQUIRED, *OPTIONAL, "decision", "reasons"])
            for d in decisions:
                c = d.candidate
                w.writerow(
                    [
                        c.candidate_id,
                        c.email,
                        c.channel,
                        c.brand,
                        c.family,
                        to_iso(c.at, tz),
                        "" if c.weight is None else f"{c.weight:g}",
                        f"{c.value:g}",
                        c.product or "",
                        c.phone or "",
                        "accepted" if d.allowed else "rejected",
                        "; ".join(r.message for r in d.reasons),
                    ]
                )
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _create_temp(path: Path) -> tuple[int, Path]:
    # Not tempfile.mkstemp: it creates files 0600 whatever the umask. The kernel applies
    # the umask to the mode given here; O_EXCL makes the name ours alone.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"cannot create a temporary file next to {path}")


def summarize(decisions: Sequence[Decision]) -> dict[str, Any]:
    """Rejections per rule, and accepted/rejected per brand."""
    per_rule: Counter[str] = Counter()
    per_brand: dict[str, Counter[str]] = {}
    for d in decisions:
        per_brand.setdefault(d.candidate.brand, Counter())["accepted" if d.allowed else "rejected"] += 1
        for rule in dict.fromkeys(d.blocking_rules):
            per_rule[rule] += 1
    return {
        "rules": dict(per_rule.most_common()),
        "brands": {b: {"accepted": c["accepted"], "rejected": c["rejected"]} for b, c in sorted(per_brand.items())},
    }
