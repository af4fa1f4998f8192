"""reserve() inside a sending loop: decide and record in one atomic step.

Run: python examples/send_loop.py [--ledger PATH]

Your code asks before each send; a blocked message is skipped with the reason, an
allowed one is already counted, so a second worker running the same loop can never
push a contact over its cap.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pressure_sdk import Workspace, parse_config

POLICY = {
    "workspace": {"timezone": "Europe/Paris"},
    "brands": {"acme": {"priority": 10}},
    "rules": [
        # at most 2 marketing emails per contact in any 7 days
        {
            "id": "email-weekly",
            "kind": "cap",
            "max": 2,
            "window": "7d",
            "channels": ["email"],
            "families": ["marketing"],
        },
        # and never two within 20 hours
        {"id": "spacing", "kind": "gap", "min_gap": "20h", "families": ["marketing", "trigger"]},
    ],
}

OUTBOX = [
    # (email, family, hours from the start)
    ("ana@example.com", "marketing", 0),
    ("ana@example.com", "transactional", 1),  # exempt: always goes, always counted
    ("ana@example.com", "marketing", 2),  # too close to the first one
    ("ana@example.com", "marketing", 30),
    ("ana@example.com", "marketing", 60),  # third in 7 days
    ("bob@example.com", "marketing", 60),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", help="ledger file (default: a temporary one)")
    args = parser.parse_args()
    ledger = args.ledger or str(Path(tempfile.mkdtemp()) / "ledger.db")
    cfg = parse_config({**POLICY, "workspace": {**POLICY["workspace"], "ledger": ledger}})
    start = 1_790_000_000
    sent = skipped = 0
    with Workspace(cfg) as ws:
        for email, family, hours in OUTBOX:
            decision = ws.reserve(email, "email", "acme", family, at=start + hours * 3600)
            if decision.allowed:
                sent += 1
                print(f"send  {email:<18} {family:<13} +{hours}h")  # your platform's send call goes here
            else:
                skipped += 1
                print(f"skip  {email:<18} {family:<13} +{hours}h  {'; '.join(r.message for r in decision.reasons)}")
    print(f"{sent} sent, {skipped} skipped; ledger: {ledger}")


if __name__ == "__main__":
    main()
