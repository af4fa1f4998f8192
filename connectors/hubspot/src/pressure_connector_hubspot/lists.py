"""HubSpot's suppression lists, declared as a sink: MANUAL contact lists of Lists v3.

Emails become contact ids by contacts batch read (100 per call) just before the call that
needs them; ``PUT …/memberships/add-and-remove`` takes adds and removes together, up to
``membership_batch_size`` ids each. Contacts HubSpot does not know are reported missing,
never created.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pressure_sdk.connectors import ListSink, PushBatch, Targets, contact_ids
from pressure_sdk.errors import ConnectorError, PayloadError, PermanentAPIError, TransientAPIError
from pressure_sdk.models import normalize_email

log = logging.getLogger("pressure_connector_hubspot")

BATCH_READ_PATH = "/crm/v3/objects/contacts/batch/read"
#: inputs per contacts batch read call
BATCH_READ_MAX = 100
#: HubSpot's object type id of contacts
CONTACTS = "0-1"
#: list types whose membership the API may change
WRITABLE = ("MANUAL", "SNAPSHOT")


@dataclass(slots=True)
class HubSpotList:
    list_id: str
    processing_type: str
    created: bool = False
    #: member count as HubSpot reported it with the list (None when it did not)
    size: int | None = None


class HubSpotLists(ListSink[HubSpotList]):
    """MANUAL contact lists, found by name or created; membership by contact id."""

    find_size = BATCH_READ_MAX
    combined = True

    def __init__(self, connector: Any) -> None:
        super().__init__(connector)
        self.batch_size = self.settings.membership_batch_size
        self.prefix: str = self.settings.lists_path_prefix

    def find(self, name: str) -> HubSpotList | None:
        path = f"{self.prefix}/object-type-id/{CONTACTS}/name/{quote(name, safe='')}"
        response = self.client.request("GET", path, accept=(404,))
        if response.status_code == 404:
            return None
        return self._parse(self.client.decode(response), f"GET {path}")

    def _parse(self, answer: Any, where: str) -> HubSpotList:
        data = answer.get("list") if isinstance(answer, dict) else None
        if not isinstance(data, dict) or data.get("listId") in (None, ""):
            raise PayloadError(f"{where}: the answer has no list.listId", connector="hubspot")
        size = data.get("size")
        known = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
        return HubSpotList(str(data["listId"]), str(data.get("processingType") or "?"), size=known)

    def create(self, name: str) -> HubSpotList:
        """Create a MANUAL contact list. Creating is not idempotent: an answer lost is recovered by name."""
        body = {"name": name, "objectTypeId": CONTACTS, "processingType": "MANUAL"}
        for attempt in (1, 2):
            try:
                answer = self.client.json("POST", self.prefix, json=body, idempotent=False)
            except TransientAPIError:
                # the list may exist now even though the answer was lost: look before creating again
                found = self.find(name)
                if found is not None:
                    return found
                if attempt == 2:
                    raise
                continue
            except PermanentAPIError as exc:
                # a duplicate name: another run created it meanwhile
                found = self.find(name) if exc.status in (400, 409) else None
                if found is not None:
                    return found
                raise
            made = self._parse(answer, f"POST {self.prefix}")
            made.created = True
            log.info("%s: created MANUAL HubSpot list %r (id %s)", self.connector.account.name, name, made.list_id)
            return made
        raise AssertionError("unreachable")  # pragma: no cover

    def validate(self, name: str, handle: HubSpotList) -> None:
        if handle.processing_type not in WRITABLE:
            msg = (
                f"account {self.connector.account.name!r}: HubSpot list {name!r} (id {handle.list_id}) is a "
                f"{handle.processing_type} list, whose members HubSpot computes; pressure-sync writes only "
                f"MANUAL lists: give the suppression list another name in the workspace file, or delete or "
                f"rename the list in HubSpot"
            )
            raise ConnectorError(msg, connector="hubspot")

    def find_ids(self, emails: Sequence[str]) -> Mapping[str, str]:
        """Contact id by (normalized) email; a 207 lists the emails HubSpot does not know, which are left out."""
        body = {
            "idProperty": "email",
            "inputs": [{"id": e} for e in emails],
            "properties": ["email"],
            "propertiesWithHistory": [],
        }
        # a read: repeating it is harmless even though it is a POST
        answer = self.client.json("POST", BATCH_READ_PATH, json=body, idempotent=True)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise PayloadError(f"POST {BATCH_READ_PATH}: the answer has no 'results' list", connector="hubspot")
        found: dict[str, str] = {}
        for r in results:
            props = r.get("properties") if isinstance(r, dict) else None
            email = props.get("email") if isinstance(props, dict) else None
            if not isinstance(r, dict) or not r.get("id") or not isinstance(email, str):
                msg = f"POST {BATCH_READ_PATH}: a result lacks 'id' or 'properties.email'"
                raise PayloadError(msg, connector="hubspot")
            found[normalize_email(email)] = str(r["id"])
        return found

    def add_and_remove(self, handle: HubSpotList, adds: Targets, removes: Targets) -> PushBatch:
        path = f"{self.prefix}/{quote(handle.list_id, safe='')}/memberships/add-and-remove"
        answer = self.client.json(
            "PUT",
            path,
            json={"recordIdsToAdd": list(adds), "recordIdsToRemove": list(removes)},
            idempotent=True,  # existing members and non-members are ignored: safe to repeat
        )
        if not isinstance(answer, dict):
            raise PayloadError(f"PUT {path}: the answer is not a JSON object", connector="hubspot")
        missing = answer.get("recordIdsMissing") or []
        if not isinstance(missing, list):
            raise PayloadError(f"PUT {path}: recordIdsMissing is not a list", connector="hubspot")
        gone = {str(x) for x in missing}
        kept = {hid: ms for hid, ms in adds.items() if hid not in gone}
        return PushBatch(added=contact_ids(kept), removed=contact_ids(removes), missing=contact_ids(adds, gone))
