"""Public holidays for sending-hours rules, from the ``holidays`` library.

A rule names a country (``FR``); a contact's ``region`` attribute, when the country has
it as a subdivision, adds the regional holidays (Alsace-Moselle: Good Friday and
26 December). Dates are computed per year and cached.
"""

from __future__ import annotations

import functools
from datetime import date

import holidays as _holidays

#: region names people write, beyond the library's own codes and aliases
_REGION_ALIASES = {
    "FR": {
        "alsace-moselle": "57",
        "alsace moselle": "57",
        "bas-rhin": "6AE",
        "haut-rhin": "6AE",
        "67": "6AE",
        "68": "6AE",
    }
}


def check_country(country: str) -> None:
    """ValueError unless the holidays library knows ``country`` (ISO 3166 alpha-2)."""
    if country not in _holidays.list_supported_countries():
        msg = f"unknown holidays country {country!r}; expected an ISO 3166 code such as 'FR'"
        raise ValueError(msg)


@functools.lru_cache(maxsize=256)
def subdivision(country: str, region: str | None) -> str | None:
    """The library's subdivision code for a contact's region, or None (national holidays only)."""
    if region is None:
        return None
    text = str(region).strip()
    if not text:
        return None
    text = _REGION_ALIASES.get(country, {}).get(text.lower(), text)
    cls = _holidays.country_holidays(country).__class__
    codes = {c.lower(): c for c in getattr(cls, "subdivisions", ())}
    aliases = {a.lower(): c for a, c in (getattr(cls, "subdivisions_aliases", None) or {}).items()}
    return codes.get(text.lower()) or aliases.get(text.lower())


@functools.lru_cache(maxsize=1024)
def _year(country: str, subdiv: str | None, year: int) -> dict[date, str]:
    return dict(_holidays.country_holidays(country, subdiv=subdiv, years=year).items())


def holiday(country: str, region: str | None, day: date) -> str | None:
    """The name of the public holiday on ``day`` in ``country`` (and the region's), or None."""
    return _year(country, subdivision(country, region), day.year).get(day)
