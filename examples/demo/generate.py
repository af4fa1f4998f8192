#!/usr/bin/env python3
"""Generate the demo workspace's exports: three brands, ~6,000 contacts, ~140,000 touches.

Deterministic: the same arguments give the same bytes (seeded random, fixed end date,
gzip written with mtime 0). Standard library only.

    python examples/demo/generate.py                  # rewrite examples/demo/data/
    python examples/demo/generate.py --contacts 300 --days 20 --out /tmp/demo

The story
---------
* ``maison-paris`` (priority 20) and ``maison-outlet`` (priority 10) form the group
  ``maison`` and share customers and a catalogue: the outlet promotes what Paris sold.
* ``velo`` (priority 10) is independent, with its own customers; about one in ten of
  them is also a maison customer (same person, sometimes spelled with capitals).
* Each contact has a latent reactivity. The chance to open, click or answer a message
  falls with the number of touches the contact received in the previous 7 days (all
  brands together: the pressure the person actually feels); unsubscribes and
  complaints rise with it. Purchases bring order confirmations and shipping messages;
  some orders go wrong (incidents), which bring care messages and lower reactivity.

Each brand's platform exports ``touches.csv.gz``, ``engagements.csv.gz`` and, for
``maison-paris`` and ``velo``, ``contacts.csv.gz`` into ``<out>/<brand>/``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import heapq
import io
import math
import random
import sys
import time
from collections import Counter, deque
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

from fatigue import Planted  # the planted fatigue curve, next to this script
import gen_value  # the value data (amounts, reviews, referrals): a module beside this one

DEFAULT_SEED = 20261116
DEFAULT_CONTACTS = 6000
DEFAULT_DAYS = 90
DEFAULT_END = "2026-11-16T00:00:00+00:00"

TOUCH_HEADER = ["event_id", "email", "channel", "brand", "family", "sent_at", "weight", "campaign", "product"]
ENGAGEMENT_HEADER = ["event_id", "email", "type", "occurred_at", "channel", "brand", "product", "amount", "currency"]
CONTACT_HEADER = ["email", "timezone", "max_per_week", "paused_until"]

MP, MO, VE = "maison-paris", "maison-outlet", "velo"
BRANDS = (MP, MO, VE)
PREFIX = {MP: "mp", MO: "mo", VE: "ve"}
#: how each platform writes instants: Paris local offset, or UTC with Z
TIME_STYLE = {MP: "local", MO: "z", VE: "z"}
#: brands whose platform exports contacts
CONTACT_EXPORTS = (MP, VE)

MINUTE, HOUR, DAY = 60, 3600, 86400
PARIS = ZoneInfo("Europe/Paris")
ZONES = [("Europe/Paris", 85), ("America/New_York", 8), ("Asia/Tokyo", 4), ("Europe/London", 3)]

MAISON_CATALOGUE = [
    "trench-gabardine",
    "pull-cachemire",
    "sac-cabas-cuir",
    "mocassins-velours",
    "chemise-popeline",
    "robe-portefeuille",
    "veste-tweed",
    "foulard-soie",
    "jean-droit-brut",
    "manteau-laine",
    "bottines-cuir",
    "ceinture-tressee",
    "pantalon-flanelle",
    "cardigan-merinos",
    "blouse-lin",
    "escarpins-daim",
    "parka-legere",
    "echarpe-cachemire",
    "polo-pique",
    "sneakers-cuir-blanc",
    "petite-maroquinerie",
    "chapeau-feutre",
    "gants-cuir",
    "jupe-plissee",
]
VELO_CATALOGUE = [
    "gravel-g2",
    "velo-electrique-e5",
    "velo-ville-c3",
    "casque-urbain",
    "antivol-u",
    "eclairage-led",
    "pneu-route-28",
    "maillot-ete",
    "veste-pluie",
    "sacoche-porte-bagages",
    "pompe-atelier",
    "gants-hiver",
    "selle-confort",
    "revision-annuelle",
    "chambre-a-air",
    "compteur-gps",
]
CATALOGUE = {MP: MAISON_CATALOGUE, MO: MAISON_CATALOGUE, VE: VELO_CATALOGUE}

FIRST = [
    "marie",
    "camille",
    "lea",
    "manon",
    "chloe",
    "ines",
    "sarah",
    "julie",
    "claire",
    "lucie",
    "emma",
    "louise",
    "alice",
    "anne",
    "sophie",
    "nathalie",
    "isabelle",
    "thomas",
    "nicolas",
    "julien",
    "antoine",
    "pierre",
    "hugo",
    "lucas",
    "louis",
    "maxime",
    "alexandre",
    "paul",
    "arthur",
    "olivier",
    "francois",
    "mathieu",
    "romain",
    "vincent",
    "david",
    "karim",
    "yasmine",
    "mehdi",
    "fatima",
    "jean",
]
FIRST_US = ["emily", "michael", "jessica", "daniel", "ashley", "ryan", "lauren", "kevin", "megan", "jason"]
FIRST_JP = ["yuki", "haruto", "sakura", "ren", "aoi", "hina", "sota", "yui", "kenji", "mei"]
LAST = [
    "martin",
    "bernard",
    "dubois",
    "thomas",
    "robert",
    "richard",
    "petit",
    "durand",
    "leroy",
    "moreau",
    "simon",
    "laurent",
    "lefebvre",
    "michel",
    "garcia",
    "david",
    "bertrand",
    "roux",
    "vincent",
    "fournier",
    "morel",
    "girard",
    "andre",
    "mercier",
    "dupont",
    "lambert",
    "bonnet",
    "francois",
    "martinez",
    "legrand",
    "garnier",
    "faure",
    "rousseau",
    "blanc",
    "guerin",
    "muller",
    "henry",
    "roussel",
    "nicolas",
    "perrin",
]
LAST_US = ["smith", "johnson", "williams", "brown", "jones", "miller", "davis", "wilson", "anderson", "taylor"]
LAST_JP = ["sato", "suzuki", "takahashi", "tanaka", "watanabe", "ito", "yamamoto", "nakamura", "kobayashi"]
DOMAINS_FR = [
    ("gmail.com", 38),
    ("orange.fr", 14),
    ("free.fr", 9),
    ("hotmail.fr", 9),
    ("yahoo.fr", 7),
    ("outlook.fr", 6),
    ("laposte.net", 5),
    ("sfr.fr", 4),
    ("icloud.com", 5),
    ("wanadoo.fr", 3),
]
DOMAINS_INTL = [("gmail.com", 50), ("outlook.com", 15), ("yahoo.com", 15), ("icloud.com", 15), ("proton.me", 5)]


def weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


class Member:
    """One person's relationship with one brand: what the platform may use."""

    __slots__ = (
        "email",
        "sms",
        "push",
        "phone",
        "bad_email",
        "unsub",
        "hard_bounced",
        "last_open",
        "last_click",
        "bought",
    )

    def __init__(self, email: str) -> None:
        self.email = email  # as this platform spells it
        self.sms = False
        self.push = False
        self.phone = False
        self.bad_email = False
        #: channel -> (unsubscribed at, resubscribed at) — marketing and triggers stop in between
        self.unsub: dict[str, tuple[float, float]] = {}
        self.hard_bounced = False
        self.last_open = -math.inf
        self.last_click = -math.inf
        self.bought: list[str] = []


class Person:
    __slots__ = ("idx", "email", "tz", "react", "mood", "irritation", "mpp", "joined", "brands", "recent")

    def __init__(self, idx: int, email: str, tz: str, react: float, mpp: bool, joined: float) -> None:
        self.idx = idx
        self.email = email
        self.tz = tz
        self.react = react
        self.mood = 1.0  # incidents lower it
        self.irritation = 1.0  # incidents raise it
        self.mpp = mpp  # mail privacy protection: machine opens
        self.joined = joined
        self.brands: dict[str, Member] = {}
        self.recent: deque[float] = deque()  # touch times, last 7 days


class Generator:
    def __init__(self, seed: int, contacts: int, days: int, end: datetime, planted: bool = False) -> None:
        self.rng = random.Random(seed)
        self.n = contacts
        self.days = days
        self.end = int(end.timestamp())
        self.start = self.end - days * DAY
        self.heap: list[tuple[float, int, str, tuple]] = []
        self.seq = 0
        self.touches: dict[str, list[tuple]] = {b: [] for b in BRANDS}
        self.engagements: dict[str, list[tuple]] = {b: [] for b in BRANDS}
        self.members: dict[str, list[Person]] = {b: [] for b in BRANDS}
        self.persons: list[Person] = []
        self.contact_rows: dict[str, list[list[str]]] = {b: [] for b in CONTACT_EXPORTS}
        self.fatigue = Planted(enabled=planted)
        #: engagement sequence number -> (amount, currency), filled by gen_value
        self.amounts: dict[int, tuple[str, str]] = {}

    # -- scheduling -----------------------------------------------------------

    def push(self, at: float, kind: str, payload: tuple) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, payload))

    def touch(
        self,
        at: float,
        p: Person,
        brand: str,
        channel: str,
        family: str,
        campaign: str = "",
        product: str = "",
        weight: str = "",
    ) -> None:
        if self.start <= at < self.end:
            self.push(at, "touch", (p, brand, channel, family, campaign, product, weight))

    def engage(self, at: float, p: Person, brand: str, etype: str, channel: str = "", product: str = "") -> None:
        if self.start <= at < self.end:
            self.seq += 1
            self.engagements[brand].append((int(at), self.seq, p.brands[brand].email, etype, channel, product))

    # -- population -----------------------------------------------------------

    def make_people(self) -> None:
        rng = self.rng
        seen: set[str] = set()
        for i in range(self.n):
            tz = weighted(rng, ZONES)
            if tz == "America/New_York":
                first, last, domains = rng.choice(FIRST_US), rng.choice(LAST_US), DOMAINS_INTL
            elif tz == "Asia/Tokyo":
                first, last, domains = rng.choice(FIRST_JP), rng.choice(LAST_JP), DOMAINS_INTL
            else:
                first, last, domains = rng.choice(FIRST), rng.choice(LAST), DOMAINS_FR
            style = rng.random()
            if style < 0.5:
                local = f"{first}.{last}"
            elif style < 0.7:
                local = f"{first}{last}"
            elif style < 0.85:
                local = f"{first[0]}.{last}"
            else:
                local = f"{first}_{last}"
            email = f"{local}@{weighted(rng, domains)}"
            while email in seen:
                email = f"{local}{rng.randint(1, 99)}@{weighted(rng, domains)}"
            seen.add(email)
            react = rng.betavariate(1.4, 3.2)
            joined = -math.inf if rng.random() < 0.86 else self.start + rng.random() * self.days * DAY
            p = Person(i, email, tz, react, rng.random() < 0.07, joined)
            self.persons.append(p)

            r = rng.random()
            in_maison, in_velo = r < 0.62, r >= 0.56  # 6 % of people are customers of both
            if in_maison:
                m = rng.random()
                brands = [MP] if m < 0.36 else [MO] if m < 0.58 else [MP, MO]
            else:
                brands = []
            if in_velo:
                brands.append(VE)
            for b in brands:
                spelled = email
                if b == VE and in_maison and rng.random() < 0.25:
                    name, domain = email.split("@")
                    spelled = name.title() + "@" + domain
                mem = Member(spelled)
                mem.sms = rng.random() < {MP: 0.4, MO: 0.5, VE: 0.35}[b]
                mem.push = rng.random() < {MP: 0.25, MO: 0.0, VE: 0.3}[b]
                mem.phone = b == VE and rng.random() < 0.5
                mem.bad_email = rng.random() < 0.012
                p.brands[b] = mem
                self.members[b].append(p)

        for b in CONTACT_EXPORTS:
            for p in self.members[b]:
                mem = p.brands[b]
                tz = p.tz if (b == VE or rng.random() < 0.85) else ""
                mpw = ""
                if rng.random() < (0.08 if b == MP else 0.03):
                    mpw = str(rng.choice([1, 1, 2, 2, 3, 4]))
                paused = ""
                if rng.random() < 0.012:
                    day = datetime.fromtimestamp(self.end, PARIS).date() + timedelta(days=rng.randint(-20, 60))
                    paused = self.fmt(self.local_ts(day, 0, 0), b)
                self.contact_rows[b].append([mem.email, tz, mpw, paused])
            self.contact_rows[b].sort(key=lambda row: row[0].lower())

    # -- calendars ------------------------------------------------------------

    def local_ts(self, d: date, hh: int, mm: int, tz: ZoneInfo = PARIS) -> int:
        return int(datetime.combine(d, dtime(hh, mm), tzinfo=tz).timestamp())

    def plan(self) -> None:
        rng = self.rng
        first = datetime.fromtimestamp(self.start, PARIS).date() - timedelta(days=1)
        last = datetime.fromtimestamp(self.end, PARIS).date() + timedelta(days=1)
        d = first
        while d <= last:
            wd = d.weekday()
            iso_week = d.isocalendar()[1]
            november = d.month == 11
            tag = d.strftime("%Y%m%d")
            # maison-paris: a gazette every other Thursday, a promotion every Tuesday,
            # an SMS flash sale once a month, app pushes on Saturdays.
            if wd == 3 and iso_week % 2 == 0:
                self.campaign(self.local_ts(d, 10, 0), MP, "email", f"mp-{tag}-gazette", "", "all")
            if wd == 1:
                prod = rng.choice(MAISON_CATALOGUE)
                self.campaign(self.local_ts(d, 11, 0), MP, "email", f"mp-{tag}-promo-{prod}", prod, "engaged")
            if wd == 4 and (d.day <= 7 or november):
                prod = rng.choice(MAISON_CATALOGUE)
                self.campaign(self.local_ts(d, 18, 30), MP, "sms", f"mp-{tag}-sms-{prod}", prod, "share:0.6")
            if wd == 5:
                self.campaign(self.local_ts(d, 15, 0), MP, "push", f"mp-{tag}-app-nouveautes", "", "share:0.5")
            # November warms up for Black Friday: private sales on Saturdays.
            if november and wd == 5:
                prod = rng.choice(MAISON_CATALOGUE)
                self.campaign(self.local_ts(d, 9, 0), MP, "email", f"mp-{tag}-vente-privee-{prod}", prod, "engaged")
            # maison-outlet: flash sales every Monday (everyone), from October a "last
            # chance" resend on Tuesday to those who opened nothing, in November Thursday
            # and Saturday sales too; SMS every other Friday evening.
            if wd == 0 or (november and wd in (3, 5)):
                prod = rng.choice(MAISON_CATALOGUE)
                seg = "all" if wd == 0 else "engaged"
                self.campaign(self.local_ts(d, 12, 0), MO, "email", f"mo-{tag}-vente-flash-{prod}", prod, seg)
            if wd == 1 and d.month >= 10:
                self.campaign(self.local_ts(d, 19, 0), MO, "email", f"mo-{tag}-derniere-chance", "", "nonopeners:0.6")
            if wd == 4 and iso_week % 2 == 1:
                prod = rng.choice(MAISON_CATALOGUE)
                self.campaign(self.local_ts(d, 18, 0), MO, "sms", f"mo-{tag}-sms-flash-{prod}", prod, "share:0.7")
            # velo: newsletter every other Saturday and promotions every other Wednesday,
            # both at a local hour in each contact's zone; app pushes on Sundays; SMS monthly.
            if wd == 5 and iso_week % 2 == 1:
                self.campaign(
                    self.local_ts(d, 0, 0, ZoneInfo("Pacific/Kiritimati")),
                    VE,
                    "email",
                    f"ve-{tag}-newsletter",
                    "",
                    "all",
                    local=(d, 9, 0),
                )
            if wd == 2 and iso_week % 2 == 0:
                prod = rng.choice(VELO_CATALOGUE)
                self.campaign(
                    self.local_ts(d, 0, 0, ZoneInfo("Pacific/Kiritimati")),
                    VE,
                    "email",
                    f"ve-{tag}-promo-{prod}",
                    prod,
                    "engaged",
                    local=(d, 18, 0),
                    personal=True,
                )
            if wd == 6:
                self.campaign(
                    self.local_ts(d, 0, 0, ZoneInfo("Pacific/Kiritimati")),
                    VE,
                    "push",
                    f"ve-{tag}-push-sortie",
                    "",
                    "share:0.6",
                    local=(d, 10, 0),
                )
            if d.day == 12:
                prod = rng.choice(VELO_CATALOGUE)
                self.campaign(self.local_ts(d, 17, 0), VE, "sms", f"ve-{tag}-sms-{prod}", prod, "share:0.7")
            # velo's sales team calls a few customers on weekdays (and Saturdays).
            if wd < 6:
                self.push(self.local_ts(d, 7, 0), "calls", (d, 9 if wd < 5 else 3))
            # win-back of contacts who have not clicked for 45 days, once a month.
            if d.day == 20:
                for b in BRANDS:
                    self.push(self.local_ts(d, 9, 30), "winback", (b, f"{PREFIX[b]}-{tag}-on-vous-attend"))
            # velo: bike check reminders on the 1st.
            if d.day == 1:
                self.push(self.local_ts(d, 8, 0), "revision", (f"ve-{tag}-revision",))
            d += timedelta(days=1)

        # behavioural sessions: visits that may end in a cart, a browse or a purchase
        for p in self.persons:
            for b in p.brands:
                rate = 0.004 + 0.035 * p.react
                t = max(self.start, p.joined) + rng.expovariate(rate) * DAY
                while t < self.end:
                    self.push(t, "session", (p, b))
                    t += rng.expovariate(rate) * DAY
            if p.joined > self.start:
                self.push(p.joined, "join", (p,))
        # random service and care messages (password resets, workshop appointments, calls)
        for p in self.persons:
            for b in p.brands:
                t = self.start + rng.expovariate(0.003) * DAY
                while t < self.end:
                    self.push(t, "service", (p, b))
                    t += rng.expovariate(0.003) * DAY

    def campaign(
        self,
        at: int,
        brand: str,
        channel: str,
        name: str,
        product: str,
        segment: str,
        local: tuple | None = None,
        personal: bool = False,
    ) -> None:
        if self.start - DAY <= at < self.end:
            self.push(at, "campaign", (brand, channel, name, product, segment, local, personal))

    # -- consent --------------------------------------------------------------

    def reachable(self, p: Person, brand: str, channel: str, family: str, t: float) -> bool:
        mem = p.brands[brand]
        if t < p.joined:
            return False
        if channel == "email" and mem.hard_bounced:
            return False
        if channel == "sms" and not mem.sms or channel == "push" and not mem.push:
            return False
        if channel == "call" and not mem.phone:
            return False
        if family in ("marketing", "trigger") and channel in mem.unsub:
            since, until = mem.unsub[channel]
            if since <= t < until:
                return False
        return True

    # -- the simulation -------------------------------------------------------

    def run(self) -> None:
        while self.heap:
            t, _, kind, payload = heapq.heappop(self.heap)
            if t >= self.end:
                break
            getattr(self, "on_" + kind)(t, *payload)

    def on_campaign(
        self,
        t: float,
        brand: str,
        channel: str,
        name: str,
        product: str,
        segment: str,
        local: tuple | None,
        personal: bool,
    ) -> None:
        rng = self.rng
        for p in self.members[brand]:
            if not self.reachable(p, brand, channel, "marketing", t):
                continue
            if segment == "engaged" and rng.random() > 0.2 + 0.75 * p.react * p.mood:
                continue
            if segment.startswith("share:") and rng.random() > float(segment[6:]):
                continue
            if segment.startswith("nonopeners:") and (
                p.brands[brand].last_open > t - 30 * HOUR or rng.random() > float(segment[11:])
            ):
                continue
            at = t
            if local is not None:
                d, hh, mm = local
                at = max(t, self.local_ts(d, hh, mm, ZoneInfo(p.tz)))
            at += rng.random() * 40 * MINUTE
            prod = product
            if personal and p.brands[brand].bought and rng.random() < 0.5:
                prod = rng.choice(p.brands[brand].bought)
            self.touch(at, p, brand, channel, "marketing", name, prod, "2" if channel == "call" else "")

    def on_calls(self, t: float, d: date, count: int) -> None:
        rng = self.rng
        pool = [p for p in self.members[VE] if self.reachable(p, VE, "call", "marketing", t)]
        for p in rng.sample(pool, min(count, len(pool))):
            minute = rng.randint(9 * 60 + 30, 20 * 60 + 15)
            at = self.local_ts(d, minute // 60, minute % 60, ZoneInfo(p.tz))
            tag = d.strftime("%Y%m%d")
            self.touch(max(at, t), p, VE, "call", "marketing", f"ve-{tag}-appel-conseil", "", "2")

    def on_winback(self, t: float, brand: str, name: str) -> None:
        rng = self.rng
        for p in self.members[brand]:
            mem = p.brands[brand]
            if mem.last_click < t - 45 * DAY and p.joined < t - 45 * DAY and rng.random() < 0.6:
                if self.reachable(p, brand, "email", "trigger", t):
                    self.touch(t + rng.random() * 30 * MINUTE, p, brand, "email", "trigger", name)

    def on_revision(self, t: float, name: str) -> None:
        rng = self.rng
        for p in self.members[VE]:
            if rng.random() < 0.06 and self.reachable(p, VE, "email", "trigger", t):
                self.touch(t + rng.random() * 20 * MINUTE, p, VE, "email", "trigger", name, "revision-annuelle")

    def on_join(self, t: float, p: Person) -> None:
        for b in p.brands:
            for k, delay in enumerate((10 * MINUTE, 3 * DAY, 7 * DAY), start=1):
                self.touch(t + delay, p, b, "email", "trigger", f"{PREFIX[b]}-bienvenue-{k}")

    def on_session(self, t: float, p: Person, brand: str) -> None:
        rng = self.rng
        product = rng.choice(CATALOGUE[brand])
        r = rng.random()
        if r < 0.12:
            self.purchase(t, p, brand, product, "")
        elif r < 0.45:
            self.touch(
                t + HOUR + rng.random() * HOUR,
                p,
                brand,
                "email",
                "trigger",
                f"{PREFIX[brand]}-panier-abandonne",
                product,
            )
            if p.brands[brand].push and rng.random() < 0.5:
                self.touch(t + DAY, p, brand, "push", "trigger", f"{PREFIX[brand]}-panier-rappel", product)
        elif r < 0.62:
            self.touch(
                t + 3 * HOUR + rng.random() * HOUR,
                p,
                brand,
                "email",
                "trigger",
                f"{PREFIX[brand]}-relance-navigation",
                product,
            )

    def on_service(self, t: float, p: Person, brand: str) -> None:
        rng = self.rng
        mem = p.brands[brand]
        r = rng.random()
        if r < 0.5:
            self.touch(t, p, brand, "email", "service", f"{PREFIX[brand]}-mot-de-passe")
        elif r < 0.75 and brand == VE and mem.sms:
            self.touch(t, p, brand, "sms", "service", "ve-rappel-atelier", "revision-annuelle")
        elif r < 0.85:
            self.touch(t + 2 * HOUR, p, brand, "email", "care", f"{PREFIX[brand]}-suite-a-votre-appel")

    def purchase(self, t: float, p: Person, brand: str, product: str, channel: str) -> None:
        rng = self.rng
        mem = p.brands[brand]
        self.engage(t, p, brand, "purchase", channel, product)
        mem.bought.append(product)
        # an order confirmation goes out whatever the consent (hard-bounced addresses excepted)
        self.touch(
            t + 60 + rng.random() * 120,
            p,
            brand,
            "email",
            "transactional",
            f"{PREFIX[brand]}-confirmation-commande",
            product,
        )
        ship = t + DAY + rng.random() * DAY
        self.touch(
            ship,
            p,
            brand,
            "sms" if mem.sms and rng.random() < 0.5 else "email",
            "service",
            f"{PREFIX[brand]}-expedition",
            product,
        )
        self.touch(t + 10 * DAY, p, brand, "email", "trigger", f"{PREFIX[brand]}-avis-produit", product)
        if rng.random() < 0.07:
            self.push(t + 2 * DAY + rng.random() * 4 * DAY, "incident", (p, brand, product))

    def on_incident(self, t: float, p: Person, brand: str, product: str) -> None:
        rng = self.rng
        self.engage(t, p, brand, "incident", "", product)
        p.mood *= 0.7
        p.irritation += 1.5
        care_at = t + 2 * HOUR + rng.random() * DAY
        if brand in (VE, MP) and rng.random() < 0.4 and (brand == MP or p.brands[brand].phone):
            local = datetime.fromtimestamp(care_at, ZoneInfo(p.tz))
            if not 10 <= local.hour < 18 or local.weekday() >= 5:
                nxt = local.date() + timedelta(days=1 if local.hour >= 10 else 0)
                while nxt.weekday() >= 5:
                    nxt += timedelta(days=1)
                care_at = self.local_ts(nxt, 10, 0, ZoneInfo(p.tz)) + rng.random() * 7 * HOUR
            self.touch(care_at, p, brand, "call", "care", f"{PREFIX[brand]}-appel-service-client", product)
            p.brands[brand].phone = True
        else:
            self.touch(care_at, p, brand, "email", "care", f"{PREFIX[brand]}-geste-commercial", product)

    def on_touch(
        self, t: float, p: Person, brand: str, channel: str, family: str, campaign: str, product: str, weight: str
    ) -> None:
        if not self.reachable(p, brand, channel, family, t):
            return
        rng = self.rng
        mem = p.brands[brand]
        self.seq += 1
        self.touches[brand].append((int(t), self.seq, mem.email, channel, family, weight, campaign, product))
        planted = self.fatigue.on_touch(self, t, p, brand, channel, family, weight)  # fatigue.py: planted truth

        recent = p.recent
        while recent and recent[0] <= t - 7 * DAY:
            recent.popleft()
        pressure = len(recent)
        recent.append(t)

        fatigue = 1.0 / (1.0 + 0.25 * pressure)
        react = p.react * p.mood
        soliciting = family in ("marketing", "trigger")
        interest = {"transactional": 1.6, "service": 1.3, "care": 1.3, "trigger": 1.25, "marketing": 1.0}[family]
        # annoyance: rises with pressure, more for people who do not care about the brand
        annoy = (1 + 0.45 * pressure) * (1.6 - react) * p.irritation

        if channel == "email":
            if mem.bad_email:
                self.engage(t + 60 + rng.random() * 300, p, brand, "bounce", "email")
                mem.hard_bounced = True
                return
            if rng.random() < 0.002:
                self.engage(t + 60 + rng.random() * 600, p, brand, "bounce", "email")
                return
            engaged = rng.random() < min(0.95, (0.06 + 0.62 * react) * fatigue * interest)
            opened_at = None
            if p.mpp:
                opened_at = t + 120 + rng.random() * 1800
            elif engaged:
                opened_at = t + min(rng.expovariate(1 / (5 * HOUR)), 70 * HOUR) + 30
            if opened_at is not None:
                self.engage(opened_at, p, brand, "open", "email", product)
                mem.last_open = opened_at
            if planted is not None:  # the planted click chance of campaigns and triggers (fatigue.py)
                clicked = rng.random() < planted
            else:
                clicked = engaged and rng.random() < (0.1 + 0.4 * react) * (1.0 if soliciting else 0.3)
            if clicked:
                click_at = (opened_at or t) + 20 + rng.random() * 20 * MINUTE
                if self.fatigue.enabled:
                    click_at, opened_at = self.fatigue.click_times(self, t, opened_at, p, brand, product)
                self.engage(click_at, p, brand, "click", "email", product)
                mem.last_click = click_at
                if soliciting and rng.random() < 0.12:
                    bought = product or rng.choice(CATALOGUE[brand])
                    self.push(click_at + 5 * MINUTE + rng.random() * 6 * HOUR, "buy", (p, brand, bought, "email"))
            elif engaged and family == "service" and rng.random() < 0.01:
                self.engage(t + rng.random() * DAY, p, brand, "reply", "email", product)
            if soliciting:
                if rng.random() < 0.00010 * annoy * annoy:
                    at = t + 10 * MINUTE + rng.random() * DAY
                    self.engage(at, p, brand, "complaint", "email")
                    mem.unsub["email"] = (at, math.inf)
                elif rng.random() < 0.00075 * annoy:
                    at = t + 5 * MINUTE + rng.random() * 2 * DAY
                    self.engage(at, p, brand, "unsubscribe", "email")
                    back = math.inf
                    if rng.random() < 0.08:
                        back = at + (7 + rng.random() * 40) * DAY
                        self.engage(back, p, brand, "resubscribe", "email")
                    mem.unsub["email"] = (at, back)
        elif channel == "sms":
            self.engage(t + 3 + rng.random() * 60, p, brand, "delivered", "sms")
            if soliciting and rng.random() < (0.02 + 0.14 * react) * fatigue:
                click_at = t + rng.random() * 2 * HOUR
                self.engage(click_at, p, brand, "click", "sms", product)
                if rng.random() < 0.1:
                    self.push(
                        click_at + 5 * MINUTE + rng.random() * 3 * HOUR,
                        "buy",
                        (p, brand, product or rng.choice(CATALOGUE[brand]), "sms"),
                    )
            if soliciting and rng.random() < 0.0035 * annoy:
                at = t + rng.random() * HOUR
                self.engage(at, p, brand, "unsubscribe", "sms")
                mem.unsub["sms"] = (at, math.inf)
        elif channel == "push":
            if rng.random() < (0.03 + 0.22 * react) * fatigue * interest:
                self.engage(t + rng.random() * 3 * HOUR, p, brand, "open", "push", product)
        elif channel == "call":
            if rng.random() < (0.25 + 0.35 * react) * fatigue * interest:
                self.engage(t + 30 + rng.random() * 60, p, brand, "reply", "call", product)
                if family == "marketing" and rng.random() < 0.08:
                    self.push(
                        t + HOUR + rng.random() * 2 * DAY, "buy", (p, brand, rng.choice(CATALOGUE[brand]), "call")
                    )
            if soliciting and rng.random() < 0.01 * annoy:
                at = t + 60
                if rng.random() < 0.2:
                    self.engage(at, p, brand, "complaint", "call")
                else:
                    self.engage(at, p, brand, "unsubscribe", "call")
                mem.unsub["call"] = (at, math.inf)

    def on_buy(self, t: float, p: Person, brand: str, product: str, channel: str) -> None:
        self.purchase(t, p, brand, product, channel)

    # -- output ---------------------------------------------------------------

    def fmt(self, ts: float, brand: str) -> str:
        if TIME_STYLE[brand] == "local":
            return datetime.fromtimestamp(int(ts), PARIS).isoformat()
        return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def write(self, out: Path) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for b in BRANDS:
            folder = out / b
            folder.mkdir(parents=True, exist_ok=True)
            pre = PREFIX[b]
            rows = sorted(self.touches[b])
            sizes[f"{b}/touches.csv.gz"] = write_gz(
                folder / "touches.csv.gz",
                TOUCH_HEADER,
                (
                    [f"{pre}-t-{i:06d}", email, ch, b, fam, self.fmt(ts, b), w, camp, prod]
                    for i, (ts, _, email, ch, fam, w, camp, prod) in enumerate(rows, start=1)
                ),
            )
            rows = sorted(self.engagements[b])
            sizes[f"{b}/engagements.csv.gz"] = write_gz(
                folder / "engagements.csv.gz",
                ENGAGEMENT_HEADER,
                (
                    [f"{pre}-e-{i:06d}", email, etype, self.fmt(ts, b), ch, b, prod, *self.amounts.get(seq, ("", ""))]
                    for i, (ts, seq, email, etype, ch, prod) in enumerate(rows, start=1)
                ),
            )
            if b in self.contact_rows:
                sizes[f"{b}/contacts.csv.gz"] = write_gz(
                    folder / "contacts.csv.gz", CONTACT_HEADER, iter(self.contact_rows[b])
                )
            else:
                stale = folder / "contacts.csv.gz"
                if stale.exists():
                    stale.unlink()
        return sizes


# -- the call centre (client energie, fr-telemarketing) ------------------------------------
#
# Kept apart from the generator above: its own random stream, its own people, its own
# folders. Énergie Verte prospects by phone through its own call centre (energie-appels,
# which exports contacts with their numbers, its calls and refusals, and the opposition
# list's answer) and an outside call centre calling on its behalf (energie-partenaire,
# whose dialer knows numbers only). Both call for one legal entity.

CC_SEED = 1313  # décret n° 2022-1313
CC_CONTACTS = 400
CC_DAYS = 60
CC_BRANDS = ("energie-appels", "energie-partenaire")
CC_CONTACT_HEADER = ["email", "phone", "region", "ongoing_contract", "call_consent_at", "call_consent_source"]
CC_TOUCH_HEADER = ["event_id", "email", "phone", "channel", "brand", "family", "sent_at", "campaign"]
CC_ENGAGEMENT_HEADER = ["event_id", "email", "phone", "type", "occurred_at", "channel", "brand"]
#: the date of the opposition list's answer the demo imports
CC_BLOCTEL_DATE = date(2026, 11, 2)
CC_FIRST = ["nathalie", "olivier", "sandrine", "patrick", "isabelle", "christophe", "valerie", "laurent",
            "sylvie", "frederic", "celine", "stephane", "aurelie", "nicolas", "delphine", "eric"]  # fmt: skip
CC_LAST = ["lefebvre", "fournier", "girard", "bonnet", "lambert", "fontaine", "rousseau", "vincent",
           "muller", "schmitt", "weber", "meyer", "klein", "wagner", "roux", "faure"]  # fmt: skip


def _national(number: int) -> str:
    """A French mobile number as people write it: 06 12 34 56 78."""
    digits = f"0{number}"
    return " ".join(digits[i : i + 2] for i in range(0, 10, 2))


def call_centre(out: Path, end: datetime, seed: int = CC_SEED) -> dict[str, int]:
    """Write ``<out>/energie-appels/`` and ``<out>/energie-partenaire/``; return file sizes.

    Story: about 400 prospects, each with a mobile number (some also a landline), a few in
    Alsace-Moselle; some under an ongoing contract, some who gave an express consent (with
    its source). Over 60 days both call centres call them on weekdays, sometimes too often,
    sometimes at lunchtime or on 11 November, and some prospects refuse. The opposition
    list's answer of 2 November returns one number in ten; a few of those prospects
    consented afterwards. ``call-plan.csv`` is the dialer's queue for the next days, one
    call per situation the preset judges.
    """
    rng = random.Random(seed)
    stop = int(end.timestamp())
    begin = stop - CC_DAYS * DAY
    people = []
    for i in range(CC_CONTACTS):
        first, last = rng.choice(CC_FIRST), rng.choice(CC_LAST)
        email = f"{first}.{last}{i}@{rng.choice(['orange.fr', 'free.fr', 'laposte.net', 'gmail.com'])}"
        # 06 and 073 to 078: mobile ranges the numbering plan assigns
        mobile = rng.choice([6 * 10**8, 73 * 10**7, 75 * 10**7, 78 * 10**7]) + rng.randrange(10**7)
        region = "57" if i % 37 == 3 else ("67" if i % 41 == 5 else "")
        contract = "yes" if rng.random() < 0.25 else ""
        people.append({"email": email, "mobile": mobile, "region": region, "contract": contract, "consent": ""})
    # the opposition list's answer: one number in ten (never a chosen story contact below)
    listed = [p for k, p in enumerate(people) if k % 10 == 7]
    bloctel_at = datetime(CC_BLOCTEL_DATE.year, CC_BLOCTEL_DATE.month, CC_BLOCTEL_DATE.day, tzinfo=PARIS)
    for k, p in enumerate(listed):
        if k % 6 == 1:  # opposed, then consented at a shop or online after the answer
            day = bloctel_at + timedelta(days=3 + k % 9)
            p["consent"] = (day.date().isoformat(), f"formulaire web energie-verte.fr #{4000 + k}")
    for k, p in enumerate(people):
        if not p["consent"] and k % 23 == 11:  # consented before anything was listed
            p["consent"] = ("2026-09-15", f"contrat signé en agence, dossier {7000 + k}")
    touches: dict[str, list[list[str]]] = {b: [] for b in CC_BRANDS}
    refusals: dict[str, list[list[str]]] = {b: [] for b in CC_BRANDS}
    for k in range(len(people)):
        attempts = rng.choice([0, 0, 1, 2, 3, 4, 4, 5, 6])
        for j in range(attempts):
            brand = CC_BRANDS[rng.random() < 0.4]
            day = (datetime.fromtimestamp(begin, PARIS) + timedelta(days=rng.randrange(CC_DAYS))).date()
            if day.weekday() >= 5:
                day -= timedelta(days=day.weekday() - 4)  # the dialers do not call at weekends
            minute = rng.choice([rng.randint(10 * 60, 12 * 60 + 50), rng.randint(14 * 60, 19 * 60 + 50)])
            if rng.random() < 0.06:
                minute = rng.randint(13 * 60, 13 * 60 + 55)  # a lunchtime call slips through
            at = datetime(day.year, day.month, day.day, minute // 60, minute % 60, rng.randrange(60), tzinfo=PARIS)
            if at.timestamp() >= stop:
                continue
            touches[brand].append([at.isoformat(), str(k), str(j), brand])
            if rng.random() < 0.07:
                refusals[brand].append([(at + timedelta(minutes=2)).isoformat(), str(k), brand])
    sizes: dict[str, int] = {}
    folder = out / "energie-appels"
    folder.mkdir(parents=True, exist_ok=True)
    for b in CC_BRANDS:
        (out / b).mkdir(parents=True, exist_ok=True)
        # the outside call centre's dialer knows numbers only
        by_phone = b == "energie-partenaire"
        rows = sorted(touches[b])
        sizes[f"{b}/touches.csv.gz"] = write_gz(
            out / b / "touches.csv.gz",
            CC_TOUCH_HEADER,
            (
                [
                    f"{b[:2]}{b[8:10]}-c-{i:05d}",
                    "" if by_phone else people[int(k)]["email"],
                    _national(people[int(k)]["mobile"]),
                    "call",
                    b,
                    "prospecting",
                    at,
                    f"{b}-offre-hiver",
                ]
                for i, (at, k, _j, _b) in enumerate(rows, start=1)
            ),
        )
        rows = sorted(refusals[b])
        sizes[f"{b}/engagements.csv.gz"] = write_gz(
            out / b / "engagements.csv.gz",
            CC_ENGAGEMENT_HEADER,
            (
                [
                    f"{b[:2]}{b[8:10]}-r-{i:05d}",
                    "" if by_phone else people[int(k)]["email"],
                    _national(people[int(k)]["mobile"]),
                    "call_refused",
                    at,
                    "call",
                    b,
                ]
                for i, (at, k, _b) in enumerate(rows, start=1)
            ),
        )
    sizes["energie-appels/contacts.csv.gz"] = write_gz(
        folder / "contacts.csv.gz",
        CC_CONTACT_HEADER,
        (
            [
                p["email"],
                _national(p["mobile"]) + (f";+33 1 {k % 90 + 10} {k % 97:02d} 00 00" if k % 5 == 0 else ""),
                p["region"],
                p["contract"],
                p["consent"][0] if p["consent"] else "",
                p["consent"][1] if p["consent"] else "",
            ]
            for k, p in enumerate(people)
        ),
    )
    bloctel = folder / f"bloctel-{CC_BLOCTEL_DATE.isoformat()}.txt"
    bloctel.write_text("".join(f"0{p['mobile']}\n" for p in listed), encoding="ascii")
    sizes[f"energie-appels/{bloctel.name}"] = bloctel.stat().st_size
    plan = folder / "call-plan.csv"
    with plan.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["candidate_id", "email", "phone", "channel", "brand", "family", "planned_at", "value"])
        for cid, (k, brand, when, by_phone) in enumerate(_call_plan(people, touches, refusals, listed), start=1):
            p = people[k]
            email, phone = ("", _national(p["mobile"])) if by_phone else (p["email"], "")
            w.writerow([f"a{cid:02d}", email, phone, "call", brand, "prospecting", when, "5"])
    sizes[f"energie-appels/{plan.name}"] = plan.stat().st_size
    return sizes


def _call_plan(
    people: list[dict], touches: dict[str, list[list[str]]], refusals: dict[str, list[list[str]]], listed: list[dict]
) -> list[tuple[int, str, str, bool]]:
    """One planned call per situation the preset judges: (person, brand, planned_at, by phone only)."""
    calls: dict[int, list[float]] = {}
    for rows in touches.values():
        for at, k, _j, _b in rows:
            calls.setdefault(int(k), []).append(datetime.fromisoformat(at).timestamp())
    refused = {int(k) for rows in refusals.values() for _at, k, _b in rows}
    opposed = {id(p) for p in listed}
    tomorrow = datetime(2026, 11, 17, 10, 0, tzinfo=PARIS).timestamp()

    def plain(k: int) -> bool:
        p = people[k]
        return k not in refused and id(p) not in opposed and not p["consent"] and not p["region"]

    def after(k: int) -> bool:
        return bool(people[k]["consent"]) and people[k]["consent"][0] >= CC_BLOCTEL_DATE.isoformat()

    def recent(k: int) -> int:
        return sum(1 for t in calls.get(k, []) if tomorrow - 30 * DAY < t <= tomorrow)

    used: set[int] = set()

    def pick(ok) -> int:  # type: ignore[no-untyped-def]
        k = next((k for k in range(len(people)) if k not in used and ok(k)), -1)
        used.add(k)
        return k

    quiet = lambda k: plain(k) and recent(k) == 0  # noqa: E731
    plan = [
        (pick(quiet), "energie-appels", "2026-11-17T11:00:00+01:00", False),  # accepted
        (pick(quiet), "energie-appels", "2026-11-18T13:30:00+01:00", False),  # lunchtime
        (pick(quiet), "energie-partenaire", "2026-11-21T11:00:00+01:00", False),  # a Saturday
        (pick(quiet), "energie-appels", "2026-12-25T11:00:00+01:00", False),  # Christmas, a Friday
        (pick(lambda k: plain(k) and recent(k) == 4), "energie-partenaire", "2026-11-17T15:00:00+01:00", False),
        (pick(lambda k: plain(k) and recent(k) == 2), "energie-partenaire", "2026-11-17T16:00:00+01:00", True),
        (pick(lambda k: k in refused and id(people[k]) not in opposed),
         "energie-appels", "2026-11-19T10:30:00+01:00", False),
        (pick(lambda k: id(people[k]) in opposed and not people[k]["contract"] and not people[k]["consent"]
              and k not in refused), "energie-appels", "2026-11-19T11:00:00+01:00", False),
        (pick(lambda k: id(people[k]) in opposed and people[k]["contract"] and recent(k) < 4 and k not in refused),
         "energie-appels", "2026-11-19T11:30:00+01:00", False),
        (pick(lambda k: id(people[k]) in opposed and after(k) and k not in refused),
         "energie-appels", "2026-11-19T20:30:00+01:00", False),  # consented after the listing
        (pick(lambda k: id(people[k]) in opposed and bool(people[k]["consent"]) and not after(k)
              and not people[k]["contract"] and k not in refused),
         "energie-appels", "2026-11-19T12:00:00+01:00", False),  # consented before it
        (pick(lambda k: people[k]["region"] == "57" and k not in refused and id(people[k]) not in opposed),
         "energie-appels", "2027-03-26T11:00:00+01:00", False),  # Good Friday in Moselle
    ]  # fmt: skip
    return [c for c in plan if c[0] >= 0]


def write_gz(path: Path, header: list[str], rows) -> int:
    """Write a CSV as gzip with a fixed header (no name, mtime 0): same rows, same bytes."""
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(text.getvalue().encode("utf-8"))
    tmp.replace(path)
    return path.stat().st_size


def summary(gen: Generator, sizes: dict[str, int], elapsed: float) -> str:
    lines = []
    total_t = sum(len(v) for v in gen.touches.values())
    emails = {row[2].lower() for rows in gen.touches.values() for row in rows}
    lines.append(
        f"{total_t:,} touches to {len(emails):,} contacts over {gen.days} days "
        f"({datetime.fromtimestamp(gen.start, UTC):%Y-%m-%d} .. {datetime.fromtimestamp(gen.end, UTC):%Y-%m-%d}), "
        f"{elapsed:.1f}s"
    )
    lines.append(
        f"{'brand':<15}{'touches':>9}{'engagements':>13}{'contacts':>10}{'unsub':>7}{'complaints':>12}{'bytes':>10}"
    )
    for b in BRANDS:
        et = Counter(row[3] for row in gen.engagements[b])
        size = sum(v for k, v in sizes.items() if k.startswith(b + "/"))
        lines.append(
            f"{b:<15}{len(gen.touches[b]):>9,}{len(gen.engagements[b]):>13,}"
            f"{len(gen.contact_rows.get(b, [])):>10,}{et['unsubscribe']:>7,}{et['complaint']:>12,}{size:>10,}"
        )
    fam = Counter(row[4] for rows in gen.touches.values() for row in rows)
    ch = Counter(row[3] for rows in gen.touches.values() for row in rows)
    et = Counter(row[3] for rows in gen.engagements.values() for row in rows)
    lines.append("families: " + ", ".join(f"{k} {v:,}" for k, v in fam.most_common()))
    lines.append("channels: " + ", ".join(f"{k} {v:,}" for k, v in ch.most_common()))
    lines.append("engagements: " + ", ".join(f"{k} {v:,}" for k, v in et.most_common()))
    lines.append(f"total size: {sum(sizes.values()):,} bytes")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    ap.add_argument("--contacts", type=int, default=DEFAULT_CONTACTS, help="people to create (default %(default)s)")
    ap.add_argument("--days", type=int, default=DEFAULT_DAYS, help="days of history (default %(default)s)")
    ap.add_argument("--end", default=DEFAULT_END, help="end of the history, ISO 8601 with offset (default %(default)s)")
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "data",
        help="output folder (default: data/ next to this script)",
    )
    ap.add_argument(
        "--plant-fatigue",
        action="store_true",
        help="clicks on campaigns and triggers follow the planted fatigue curve of fatigue.py",
    )
    args = ap.parse_args(argv)
    end = datetime.fromisoformat(args.end)
    if end.tzinfo is None:
        ap.error("--end needs an offset, e.g. 2026-11-16T00:00:00+00:00")
    if args.contacts < 10 or args.days < 1:
        ap.error("--contacts must be >= 10 and --days >= 1")

    began = time.perf_counter()
    gen = Generator(args.seed, args.contacts, args.days, end, planted=args.plant_fatigue)
    gen.make_people()
    gen.plan()
    gen.run()
    if not args.plant_fatigue:
        # the experiment's planted effect removes clicks of one arm: it would blur the planted
        # fatigue curve, so each planted truth is checked on data of its own
        __import__("gen_experiment").plant(gen, args.seed)
    gen_value.enrich(gen)  # purchases with amounts, reviews, referrals, recommendations
    sizes = gen.write(args.out)
    print(summary(gen, sizes, time.perf_counter() - began))
    # the call centre's story is pinned to November 2026 (its opposition answer and call
    # plan name dates), whatever --end says
    cc = call_centre(args.out, datetime.fromisoformat(DEFAULT_END))
    print(f"call centre (energie): {len(cc)} files, {sum(cc.values()):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
