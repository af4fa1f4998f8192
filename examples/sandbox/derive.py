"""Make the exports of the HTTP demo's two extra brands from the demo's own.

``maison-web`` (the maison group's online shop, on Mailchimp) is the outlet's history and
``velo-pro`` (velo's business customers, on SFMC) is velo's, each with other addresses
(``name+web@``, ``name+pro@``) so that they are other people with histories of their own.
Deterministic: the same demo data gives the same bytes, which a test checks.

    python examples/sandbox/derive.py
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent / "demo" / "data"
#: new brand -> (demo brand it is made from, address tag)
DERIVED = {"maison-web": ("maison-outlet", "web"), "velo-pro": ("velo", "pro")}


def derive(source: Path, target: Path, brand: str, tag: str) -> None:
    """Copy an export folder under ``brand``, every address and event id made its own."""
    target.mkdir(parents=True, exist_ok=True)
    for f in sorted(source.glob("*.csv.gz")):
        with gzip.open(f, "rt", encoding="utf-8", newline="") as src:
            rows = csv.DictReader(src)
            fields = list(rows.fieldnames or [])
            text = io.StringIO()
            out = csv.DictWriter(text, fieldnames=fields, lineterminator="\n")
            out.writeheader()
            for row in rows:
                local, _, domain = row["email"].partition("@")
                row["email"] = f"{local}+{tag}@{domain}"
                if row.get("event_id"):
                    row["event_id"] = f"{tag}-{row['event_id']}"
                if row.get("brand"):
                    row["brand"] = brand
                out.writerow(row)
        # no file name and mtime 0 in the gzip header: same rows, same bytes
        with (target / f.name).open("wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as gz:
            gz.write(text.getvalue().encode("utf-8"))


def main(out: Path = HERE / "data") -> int:
    for brand, (source, tag) in DERIVED.items():
        derive(DEMO / source, out / brand, brand, tag)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "data"))
