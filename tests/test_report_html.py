"""``pressure-sync report``: one self-contained HTML file, drawn by a real headless Chromium, and JSON.

The Chromium test renders the file with ``chromium --headless --screenshot`` (no network:
the file references no URL) and reads the PNG back with a small decoder (zlib and the
five PNG row filters), then checks that each tier's line colour and its interval band's
tint are painted: the charts were drawn, not just the legend.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from pressure_sdk.cli import cli
from pressure_sdk.ledger import Ledger
from pressure_sdk.models import Batch, Engagement, Touch
from pressure_sdk.report_html import TIER_COLOURS
from pressure_sdk.timeutil import parse_instant

START = parse_instant("2026-08-01T00:00:00Z", "UTC")
DAY = 86400
CONFIG = """
[workspace]
ledger = "ledger.db"
now = "2026-11-10T00:00:00Z"

[brands.acme]

[[accounts]]
name = "acme"
connector = "files"
brand = "acme"

[[accounts.lists]]
name = "acme-marketing-email"
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 contacts over 100 days: heavier senders get more messages; clicks (some followed by a
    purchase) fall with the weekly count."""
    root = tmp_path_factory.mktemp("report")
    (root / "pressure.toml").write_text(CONFIG)
    rng = random.Random(11)
    touches, engagements = [], []
    for c in range(600):
        email = f"c{c}@example.com"
        react = rng.random()
        rate = rng.choice([0.3, 0.6, 1.0, 1.5])
        t = START + rng.random() * DAY
        recent: list[float] = []
        while t < START + 100 * DAY:
            recent = [x for x in recent if x > t - 7 * DAY] + [t]
            touches.append(Touch(f"t{len(touches)}", email, "email", "acme", "marketing", int(t)))
            if rng.random() < (0.05 + 0.3 * react) * math.exp(-0.25 * len(recent)):
                engagements.append(Engagement(f"e{len(engagements)}", email, "click", int(t) + 600, "email", "acme"))
                if rng.random() < 0.3:
                    amount = round(rng.uniform(20, 120), 2)
                    engagements.append(
                        Engagement(
                            f"e{len(engagements)}", email, "purchase", int(t) + 900, "email", "acme", amount=amount
                        )
                    )
            elif rng.random() < 0.002 * len(recent):
                engagements.append(
                    Engagement(f"e{len(engagements)}", email, "unsubscribe", int(t) + 900, "email", "acme")
                )
                break
            t += rng.expovariate(rate) * DAY
    led = Ledger(root / "ledger.db")
    led.ingest(Batch(touches=touches, engagements=engagements), account="acme")
    led.confirm_push("acme", "acme-marketing-email", [1, 2, 3], [])
    led.close()
    return root


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB bytes) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line) if bpp == 3 else bytes(v for j, v in enumerate(line) if j % 4 != 3))
        prev = line
    return width, height, rows


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def test_report_writes_one_self_contained_file_and_json(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    config = str(workspace / "pressure.toml")
    code, text = invoke("report", "--config", config, "--out", str(out), "--month", "2026-10")
    assert code == 0, text
    assert text.strip().endswith(f"-> {out}")
    html = out.read_text()
    # nothing points anywhere: no URL, no script, no external file
    for needle in ("://", "<script", "src=", "href=", "@import", "url("):
        assert needle not in html, needle
    assert html.count("<svg") == 4  # response, unsubscribe and revenue curves; list sizes
    assert "acme / acme-marketing-email" in html and "No experiment in this report." in html
    code, text = invoke("report", "--config", config, "--month", "2026-10", "--json")
    assert code == 0, text
    data = json.loads(text)
    assert data["month"] == "2026-10" and data["measurement"]["months"] == ["2026-08", "2026-09", "2026-10"]
    assert data["lists"] == [{"client": "default", "account": "acme", "list": "acme-marketing-email", "size": 3}]
    tiers = {c["tier"] for c in data["measurement"]["fatigue"]}
    assert tiers and tiers <= set(TIER_COLOURS)
    october = [k for k in data["measurement"]["kpis"] if k["month"] == "2026-10"]
    assert sum(k["messages"] for k in october) > 1000
    assert data["experiments"] == [] and data["recommendations"] == []


def test_report_has_help_and_is_in_the_readme() -> None:
    code, out = invoke("report", "--help")
    assert code == 0 and "Usage:" in out and "--config" in out and "--out" in out
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "| `pressure-sync report " in readme and "\n### Report\n" in readme and "docs/report.png" in readme
    assert (Path(__file__).parents[1] / "docs" / "report.png").is_file()


def test_report_refuses_bad_input(workspace: Path) -> None:
    config = str(workspace / "pressure.toml")
    code, text = invoke("report", "--config", config)
    assert code == 2 and "--out report.html, or --json" in text
    code, text = invoke("report", "--config", config, "--json", "--family", "newsletter")
    assert code == 2 and "unknown family" in text
    code, text = invoke("report", "--config", config, "--json", "--month", "2026-13")
    assert code == 2 and "YYYY-MM" in text
    code, text = invoke("report", "--config", config, "--json", "--month", "2027-01")
    assert code == 2 and "nothing to measure yet" in text


def test_experiments_and_recommendations_plug_in(workspace: Path) -> None:
    from pressure_sdk.config import load_config
    from pressure_sdk.measure import measure
    from pressure_sdk.report_html import ReportData, render_html
    from pressure_sdk.workspace import Workspace

    class Finding:
        def to_dict(self) -> dict[str, object]:
            return {"arm": "cap-2 <vs> cap-3", "difference": 0.0123}

    class Styled(Finding):
        def to_html(self) -> str:
            return "<p class=own>styled</p>"

    cfg = load_config(workspace / "pressure.toml")
    with Workspace(cfg) as ws:
        m = measure(ws.ledger, cfg, months=["2026-10"], now=ws.now())
    data = ReportData("t", "2026-10", ws.now(), m, experiments=[Finding()], recommendations=[Styled()])
    html = render_html(data)
    assert "cap-2 &lt;vs&gt; cap-3" in html and "0.0123" in html and "<p class=own>styled</p>" in html
    assert data.to_dict()["experiments"] == [{"arm": "cap-2 <vs> cap-3", "difference": 0.0123}]


def test_chromium_draws_the_charts(workspace: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "install Chromium (Debian: apt-get install chromium) to run this test"
    out = tmp_path / "report.html"
    code, text = invoke("report", "--config", str(workspace / "pressure.toml"), "--out", str(out))
    assert code == 0, text
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,1400",
            out.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    width, height, rows = read_png(shot)
    assert (width, height) == (1200, 1400)
    pixels: Counter[tuple[int, int, int]] = Counter()
    for row in rows:
        pixels.update(zip(row[0::3], row[1::3], row[2::3], strict=True))
    data = json.loads(
        invoke("report", "--config", str(workspace / "pressure.toml"), "--json")[1],
    )
    tiers = {c["tier"] for c in data["measurement"]["fatigue"] if len(c["points"]) >= 3}
    assert tiers
    tinted = 0
    for tier in tiers:
        line = rgb(TIER_COLOURS[tier])
        # three legend swatches are 3 x 112 pixels: lines and points across the plots are far more
        assert pixels[line] > 600, (tier, pixels[line])
        # the interval band: the colour at 18 % over white, where no other band overlaps
        tint = tuple(round(255 - 0.18 * (255 - v)) for v in line)
        tinted += sum(n for p, n in pixels.items() if all(abs(a - b) <= 2 for a, b in zip(p, tint, strict=True)))
    # bands are areas: thousands of pixels (the anti-aliased edges of lines give a few hundred)
    assert tinted > 3000, tinted
