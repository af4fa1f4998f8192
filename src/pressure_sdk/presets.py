"""Ready-made rule sets a client or brand switches on with ``presets = [...]``.

``fr-telemarketing``: French rules for prospecting calls to consumers (Code de la
consommation, art. L223-1 and following; décret n° 2022-1313 du 13 octobre 2022, in force
since 1 March 2023). For the brands that switch it on it expands to:

- ``fr-telemarketing:hours``: calls only Monday to Friday, 10:00-13:00 and 14:00-20:00 in
  the contact's zone (Europe/Paris when unknown), never on a French public holiday (with
  the regional ones of the contact's ``region``);
- ``fr-telemarketing:attempts``: at most 4 call attempts (every call touch, answered or
  not) per professional in any 30 days; the professional is the brand, or the
  ``legal_entity`` several brands share;
- ``fr-telemarketing:refusal``: after a ``call_refused`` engagement, no call from that
  professional for 61 days (which covers the 60 full calendar days the décret requires);

the first two lifted for a contact with an express consent to calls (the attributes
``call_consent_at``, a date, and ``call_consent_source``, its proof), the refusal never.
The opposition list (Bloctel) is consent, judged by the policy for every brand of the
client (see :meth:`pressure_sdk.policy.Policy.evaluate`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import CapRule, GapRule, HoursRule, QuietRule, WorkspaceConfig

FR = "fr-telemarketing"
#: the legal text the preset's reasons cite
DECRET = "décret n° 2022-1313"
#: contact attributes the preset reads
CONSENT_AT = "call_consent_at"
CONSENT_SOURCE = "call_consent_source"
CONTRACT = "ongoing_contract"
REGION = "region"
#: the zone of contacts whose own is unknown
PARIS = "Europe/Paris"
ATTEMPTS = 4
ATTEMPTS_WINDOW = 30 * 86400
#: 60 full calendar days after the day of the refusal: 61 days from it always covers them
REFUSAL_QUIET = 61 * 86400


def prospecting_families(cfg: WorkspaceConfig) -> list[str]:
    """The families a preset judges: every family that is not exempt."""
    return [name for name, f in cfg.families.items() if not f.exempt]


def expand(cfg: WorkspaceConfig) -> list[CapRule | GapRule | QuietRule | HoursRule]:
    """The rules the presets of ``cfg``'s clients and brands expand to, client by client."""
    from .config import CapRule, Filter, HoursRule, HoursWindow, QuietRule

    out: list[CapRule | GapRule | QuietRule | HoursRule] = []
    families = prospecting_families(cfg)
    if not families:
        return out
    for client in cfg.client_names:
        brands = [b for b in cfg.brands_of(client) if FR in cfg.presets_of(b)]
        if not brands:
            continue
        weekdays = ["mon", "tue", "wed", "thu", "fri"]
        out.append(
            HoursRule(
                kind="hours",
                id=f"{FR}:hours",
                client=client,
                applies=Filter(channels=["call"], families=families, brands=brands),
                counts=Filter(channels=["call"], families=families, brands=brands),
                allowed=[
                    HoursWindow(days=weekdays, start="10:00", end="13:00"),  # type: ignore[arg-type]
                    HoursWindow(days=weekdays, start="14:00", end="20:00"),  # type: ignore[arg-type]
                ],
                holidays="FR",
                timezone=PARIS,
                lifted_by=CONSENT_AT,
                lifted_evidence=CONSENT_SOURCE,
                label=f"{FR}:hours",
                reference=DECRET,
                description="prospecting calls Monday to Friday, 10:00-13:00 and 14:00-20:00, never on public holidays",
            )
        )
        by_pro: dict[str, list[str]] = defaultdict(list)
        for b in brands:
            by_pro[cfg.professional(b)].append(b)
        for pro, mine in by_pro.items():
            who = f"brand {pro}" if mine == [pro] else f"professional {pro}: {', '.join(mine)}"
            calls = Filter(channels=["call"], families=families, brands=mine)
            out.append(
                CapRule(
                    kind="cap",
                    id=f"{FR}:attempts",
                    client=client,
                    max=ATTEMPTS,
                    window=ATTEMPTS_WINDOW,
                    scope="all",
                    counts=calls,
                    applies=calls,
                    lifted_by=CONSENT_AT,
                    lifted_evidence=CONSENT_SOURCE,
                    label=f"{FR}:attempts",
                    reference=DECRET,
                    scope_name=who,
                    description="at most 4 call attempts per professional in any 30 days",
                )
            )
            out.append(
                QuietRule.model_validate(
                    {
                        "kind": "quiet",
                        "id": f"{FR}:refusal",
                        "client": client,
                        "after": ["call_refused"],
                        "for": REFUSAL_QUIET,
                        "scope": "all",
                        "counts": Filter(channels=["call"], brands=mine),
                        "applies": calls,
                        "label": f"{FR}:refusal",
                        "reference": DECRET,
                        "scope_name": who,
                        "description": "no call for 60 full days after a refusal",
                    }
                )
            )
    return out
