"""Read a demo brand's export folder (the files connector's format) to seed a sandbox.

Standard library only. Each generator yields one dict per CSV row, keyed by the header.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

KINDS = ("contacts", "touches", "engagements")


def read_export(folder: Path, kind: str) -> Iterator[dict[str, str]]:
    """Rows of ``<folder>/<kind>.csv.gz`` (or ``.csv``); nothing if the file is absent."""
    for name in (f"{kind}.csv.gz", f"{kind}.csv"):
        path = folder / name
        if path.exists():
            raw = gzip.open(path, "rb") if name.endswith(".gz") else path.open("rb")
            with raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
                yield from csv.DictReader(text)
            return


def find_demo(brand: str, start: Path | None = None) -> Path:
    """``examples/demo/data/<brand>`` in the current folder or one of its parents."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "examples" / "demo" / "data" / brand
        if candidate.is_dir():
            return candidate
    msg = (
        f"cannot find examples/demo/data/{brand} from {here}; run from the pressure-sdk checkout "
        "or pass --seed with the path of an export folder"
    )
    raise FileNotFoundError(msg)
