"""Suppression lists as static segments of the audience, declared as a kit list sink.

``POST /lists/{list_id}/segments/{segment_id}`` takes ``members_to_add`` and
``members_to_remove`` together, each "A maximum of 500 members", by email; emails "not
present on the list will be ignored". So a contact the audience may lack (no Mailchimp id
known) is first created with ``POST /lists/{list_id}`` (500 per call, ``update_existing:
false``, status ``transactional``), and an add the segment ignored although its id was
known is checked the same way after the adds (``vendor-apis-mailchimp-sfmc.md`` §1.6, §1.8).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pressure_sdk.connectors import ListSink, Targets
from pressure_sdk.connectors.base import PushBatch
from pressure_sdk.errors import PayloadError
from pressure_sdk.ledger.store import Member
from pressure_sdk.models import normalize_email

if TYPE_CHECKING:
    from .connector import MailchimpConnector

log = logging.getLogger("pressure_connector_mailchimp")

#: ``members_to_add`` / ``members_to_remove``: "A maximum of 500 members can be sent" (each);
#: ``POST /lists/{list_id}``: "Up to 500 members may be added or updated with each API call"
SEGMENT_BATCH = 500
#: the status of a contact created only to be put in a segment: not subscribed to marketing
NEW_MEMBER_STATUS = "transactional"


class StaticSegments(ListSink[int]):
    """One static segment per suppression list, found by name (the oldest of several), created empty."""

    batch_size = SEGMENT_BATCH
    combined = True
    connector: MailchimpConnector

    @property
    def _list(self) -> str:
        return f"/lists/{quote(self.settings.list_id, safe='')}"

    # -- find-or-create ---------------------------------------------------------------------

    def segments(self) -> Iterator[dict[str, Any]]:
        """``GET /lists/{list_id}/segments?type=static``: every static segment (no filter by name exists)."""
        pages = self.client.paginate(
            f"{self._list}/segments", self.connector.paginator(), items=("segments",), params={"type": "static"}
        )
        for page in pages:
            for item in page.items:
                if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("id"), int):
                    yield item

    def find(self, name: str) -> int | None:
        ids = [int(s["id"]) for s in self.segments() if s["name"] == name and s.get("type", "static") == "static"]
        return min(ids) if ids else None

    def create(self, name: str) -> int:
        # {name, static_segment: []}: "an empty array will create a static segment without any subscribers"
        path = f"{self._list}/segments"
        payload = self.client.json("POST", path, json={"name": name, "static_segment": []}, idempotent=False)
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
            raise PayloadError(f"POST {path}: the answer has no integer id", connector="mailchimp")
        log.info("mailchimp: created static segment %r (id %d)", name, payload["id"])
        return int(payload["id"])

    # -- one call ------------------------------------------------------------------------------

    def add_and_remove(self, handle: int, adds: Targets, removes: Targets) -> PushBatch:
        batch = PushBatch()
        to_add = [m for ms in adds.values() for m in ms]
        on_list: set[str] = set()
        unknown = [m for m in to_add if not m.external_id]
        if unknown and self.settings.add_missing_members:
            created, existing, refused = self.subscribe(unknown)
            on_list = set(created) | existing
            batch.external_ids.update({m.contact_id: created[e] for m in unknown if created.get(e := _norm(m))})
            batch.missing += [m.contact_id for m in unknown if _norm(m) in refused]
            to_add = [m for m in to_add if _norm(m) not in refused]
        to_remove = [m for ms in removes.values() for m in ms]
        added, errored = self.post(handle, to_add, to_remove)
        doubtful: list[Member] = []
        for m in to_add:
            email = _norm(m)
            if email in added:
                batch.added.append(m.contact_id)
            elif email in errored:
                batch.missing.append(m.contact_id)
            elif email in on_list:
                batch.added.append(m.contact_id)  # on the audience, not added: in the segment already
            else:
                doubtful.append(m)
        # ignored or removed: either way not in the segment now
        batch.removed += [m.contact_id for m in to_remove if _norm(m) not in errored]
        self.defer(doubtful)
        return batch

    def create_missing(self, handle: int, members: Sequence[Member]) -> Iterator[PushBatch]:
        """Adds the segment ignored although their Mailchimp id was known: in it already, or gone from the audience.

        ``POST /lists/{list_id}`` tells which: an existing member was in the segment already;
        one it creates (deleted from the audience meanwhile) is added to the segment now.
        """
        for i in range(0, len(members), SEGMENT_BATCH):
            chunk = members[i : i + SEGMENT_BATCH]
            batch = PushBatch()
            if not self.settings.add_missing_members:
                batch.missing = [m.contact_id for m in chunk]
                yield batch
                continue
            created, existing, refused = self.subscribe(chunk)
            fresh = [m for m in chunk if _norm(m) in created]
            batch.added += [m.contact_id for m in chunk if _norm(m) in existing]
            batch.missing += [m.contact_id for m in chunk if _norm(m) in refused]
            batch.external_ids.update({m.contact_id: created[_norm(m)] for m in fresh if created[_norm(m)]})
            if fresh:
                added, _ = self.post(handle, fresh, [])
                batch.added += [m.contact_id for m in fresh if _norm(m) in added]
                batch.missing += [m.contact_id for m in fresh if _norm(m) not in added]
            yield batch

    def post(self, segment: int, adds: Sequence[Member], removes: Sequence[Member]) -> tuple[set[str], set[str]]:
        """``POST /lists/{list_id}/segments/{segment_id}``: the emails added, and those named in ``errors``."""
        body: dict[str, Any] = {}
        if adds:
            body["members_to_add"] = [_norm(m) for m in adds]
        if removes:
            body["members_to_remove"] = [_norm(m) for m in removes]
        if not body:
            return set(), set()
        path = f"{self._list}/segments/{segment}"
        # adding a member twice or removing one twice changes nothing: safe to retry
        payload = self.client.json("POST", path, json=body, idempotent=True)
        if not isinstance(payload, dict):
            raise PayloadError(f"POST {path}: the answer is not an object", connector="mailchimp")
        added = {e for m in payload.get("members_added") or [] if (e := member_email(m))}
        errored: set[str] = set()
        for err in payload.get("errors") or []:
            if isinstance(err, dict):
                errored |= {normalize_email(e) for e in err.get("email_addresses") or [] if isinstance(e, str)}
                log.info("mailchimp: segment %s refused %s", segment, err.get("error"))
        return added, errored

    def subscribe(self, members: Sequence[Member]) -> tuple[dict[str, str], set[str], set[str]]:
        """``POST /lists/{list_id}``: create the members the audience lacks, change none that it has.

        Returns the created emails (→ their Mailchimp id), the existing ones (``ERROR_CONTACT_EXISTS``,
        or not mentioned at all) and the refused ones (any other error).
        """
        emails = list(dict.fromkeys(_norm(m) for m in members))
        body = {
            "members": [{"email_address": e, "status": NEW_MEMBER_STATUS} for e in emails],
            "update_existing": False,
        }
        # creating a member twice fails the second time as "already a member": safe to retry
        payload = self.client.json("POST", self._list, json=body, idempotent=True)
        if not isinstance(payload, dict):
            raise PayloadError(f"POST {self._list}: the answer is not an object", connector="mailchimp")
        created = {e: str(m.get("id") or "") for m in payload.get("new_members") or [] if (e := member_email(m))}
        existing: set[str] = set()
        refused: set[str] = set()
        for err in payload.get("errors") or []:
            if not isinstance(err, dict) or not isinstance(err.get("email_address"), str):
                continue
            email = normalize_email(err["email_address"])
            if err.get("error_code") == "ERROR_CONTACT_EXISTS":
                existing.add(email)
            else:
                refused.add(email)
                log.info("mailchimp: the audience refused a contact: %s", err.get("error"))
        existing |= set(emails) - set(created) - refused
        return created, existing, refused


def member_email(item: Any) -> str | None:
    """The normalized ``email_address`` of a member object, or None."""
    if isinstance(item, dict) and isinstance(item.get("email_address"), str) and item["email_address"].strip():
        return normalize_email(item["email_address"])
    return None


def _norm(member: Member) -> str:
    return normalize_email(member.email)
