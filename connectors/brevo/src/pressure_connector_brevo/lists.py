"""Brevo's suppression lists, declared as a sink: contact lists, changed by email 150 at a time.

``POST /contacts/lists/{listId}/contacts/add`` and ``/remove`` take at most 150 emails (spec
``maxItems: 150``). An add reports in ``failure`` both members already on the list and emails
Brevo does not know; one ``GET /contacts/{identifier}`` per failure tells which. Unknown
contacts are deferred and created straight into the list by ``POST /contacts/import`` after
the adds, then confirmed by reading the list's members modified since. Only list membership
changes: no call here sets ``emailBlacklisted`` or a subscription.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pressure_sdk.connectors import ListSink, PushBatch, RemoteMember, Targets
from pressure_sdk.errors import ConnectorError, PayloadError
from pressure_sdk.http import OffsetPaginator
from pressure_sdk.http import client as http_client
from pressure_sdk.ledger.store import Member
from pressure_sdk.models import normalize_email

from .mapping import brevo_time
from .streams import email_of

log = logging.getLogger("pressure_connector_brevo")

#: spec: addContactToListByEmails / removeContactFromListByEmails ``maxItems: 150``
LIST_BATCH = 150
#: emails per import call: far below the 8 MB the spec recommends for ``jsonBody``
IMPORT_CHUNK = 50_000


class BrevoLists(ListSink[int]):
    """Contact lists found by name (the oldest of that name) or created in a folder; members by email."""

    batch_size = LIST_BATCH

    # -- finding and creating ------------------------------------------------------------------

    def lists(self) -> Iterator[dict[str, Any]]:
        """Every contact list, oldest first (``GET /contacts/lists``, 50 a page, the spec's maximum)."""
        yield from self._paged("/contacts/lists", "lists", self.settings.lists_page_size, {"sort": "asc"})

    def _paged(self, path: str, key: str, size: int, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        pages = self.client.paginate(path, OffsetPaginator(size, total_path=("count",)), items=(key,), params=params)
        for page in pages:
            yield from (item for item in page.items if isinstance(item, dict))

    def lookup(self, name: str) -> dict[str, Any] | None:
        """The list called ``name`` as ``GET /contacts/lists`` gives it (getList), or None; never creates it."""
        found = next((i for i in self.lists() if "id" in i and str(i.get("name")) == name), None)
        self.remember(name, None if found is None else int(found["id"]))  # gone: the next push creates it
        return found

    def find(self, name: str) -> int | None:
        found = self.lookup(name)
        return None if found is None else int(found["id"])

    def create(self, name: str) -> int:
        # POST /contacts/lists: createList requires name and folderId → 201 createModel {id}
        body = {"name": name, "folderId": self._folder_id()}
        payload = self.client.json("POST", "/contacts/lists", json=body, idempotent=False)
        if not isinstance(payload, dict) or "id" not in payload:
            raise PayloadError("POST /contacts/lists: answer has no id", connector="brevo")
        log.info("brevo: created contact list %r (id %d)", name, int(payload["id"]))
        return int(payload["id"])

    def _folder_id(self) -> int:
        if self.settings.folder_id is not None:
            return int(self.settings.folder_id)
        name = self.settings.folder_name
        for item in self._paged("/contacts/folders", "folders", self.settings.lists_page_size, {"sort": "asc"}):
            if item.get("name") == name and "id" in item:
                return int(item["id"])
        # POST /contacts/folders: createUpdateFolder {name} → 201 createModel {id}
        payload = self.client.json("POST", "/contacts/folders", json={"name": name}, idempotent=False)
        if not isinstance(payload, dict) or "id" not in payload:
            msg = (
                "POST /contacts/folders: answer has no id; set settings.folder_id to an existing folder "
                "(Contacts → Lists → folders) instead"
            )
            raise ConnectorError(msg, connector="brevo")
        return int(payload["id"])

    def members(self, list_id: int, params: dict[str, Any]) -> Iterator[RemoteMember]:
        """``GET /contacts/lists/{listId}/contacts`` (getContactsFromList), oldest first, 500 a page."""
        path = f"/contacts/lists/{list_id}/contacts"
        for item in self._paged(path, "contacts", self.settings.members_page_size, {**params, "sort": "asc"}):
            cid = item.get("id")
            yield RemoteMember(email_of(item), None if cid is None else str(cid))

    # -- one batch ------------------------------------------------------------------------------

    def _post(self, list_id: int, action: str, targets: Targets) -> tuple[set[str], set[str]]:
        # POST /contacts/lists/{listId}/contacts/{add,remove}: {"emails": [...]} → 201 postContactInfo
        body = {"emails": [m.email for ms in targets.values() for m in ms]}
        path = f"/contacts/lists/{list_id}/contacts/{action}"
        payload = self.client.json("POST", path, json=body, idempotent=True)
        contacts = payload.get("contacts") if isinstance(payload, dict) else None
        if not isinstance(contacts, dict):
            raise PayloadError(f"POST {path}: answer has no 'contacts' object", connector="brevo")
        success = {normalize_email(str(e)) for e in contacts.get("success") or []}
        failure = {normalize_email(str(e)) for e in contacts.get("failure") or []}
        return success, failure

    def add(self, handle: int, targets: Targets) -> PushBatch:
        success, _ = self._post(handle, "add", targets)
        batch = PushBatch()
        for email, ms in targets.items():
            if email in success:
                batch.added += [m.contact_id for m in ms]
                continue
            # "already in list and/or doesn't exist": one lookup per failure tells which
            where = self._membership(email, handle)
            if where is None:
                self.defer(ms)
                continue
            contact_id, in_list = where
            for m in ms:
                batch.external_ids[m.contact_id] = contact_id
                (batch.added if in_list else batch.missing).append(m.contact_id)
        return batch

    def _membership(self, email: str, list_id: int) -> tuple[str, bool] | None:
        """``GET /contacts/{identifier}``: None if Brevo does not know the email, else (id, in the list)."""
        response = self.client.request("GET", f"/contacts/{quote(email, safe='')}", accept=(404,))
        if response.status_code == 404:
            return None
        body = self.client.decode(response) or {}
        return str(body.get("id", "")), list_id in (body.get("listIds") or [])

    def remove(self, handle: int, targets: Targets) -> PushBatch:
        success, failure = self._post(handle, "remove", targets)
        # a failure on remove is "already out of list and/or doesn't exist": either way not a member
        done = success | failure
        return PushBatch(removed=[m.contact_id for e, ms in targets.items() if e in done for m in ms])

    # -- contacts Brevo does not know -------------------------------------------------------------

    def create_missing(self, handle: int, members: Sequence[Member]) -> Iterator[PushBatch]:
        """Create unknown contacts straight into the list with ``POST /contacts/import``, then confirm.

        ``updateExistingContacts: false`` leaves existing contacts alone; ``emailBlacklist`` and
        ``smsBlacklist`` are sent false explicitly so no import ever blocklists anyone.
        """
        for i in range(0, len(members), IMPORT_CHUNK):
            chunk = members[i : i + IMPORT_CHUNK]
            started = datetime.fromtimestamp(self.connector.now() - 600, UTC)  # ten minutes of clock skew allowed
            body = {
                "jsonBody": [{"email": m.email} for m in chunk],
                "listIds": [handle],
                "updateExistingContacts": False,
                "emptyContactsAttributes": False,
                "emailBlacklist": False,
                "smsBlacklist": False,
                "disableNotification": True,
            }
            # not idempotent by the client's reading, but a repeat is harmless (creates nothing twice)
            payload = self.client.json("POST", "/contacts/import", json=body, idempotent=True)
            process = payload.get("processId") if isinstance(payload, dict) else None
            if process is None:
                raise PayloadError("POST /contacts/import: answer has no processId", connector="brevo")
            if not self._wait_process(int(process)):
                log.warning("brevo: import %s not finished; %d contacts retried next run", process, len(chunk))
                yield PushBatch(missing=[m.contact_id for m in chunk])
                continue
            yield self._confirm_import(handle, chunk, started)

    def _wait_process(self, process: int) -> bool:
        """Poll ``GET /processes/{processId}`` sparingly (the 100/hour bucket) until ``completed``."""
        for attempt in range(self.settings.import_max_polls):
            # the first poll waits too: an import is never done at once
            http_client.sleep(self.settings.import_poll_interval * (1 if attempt == 0 else 2))
            status = (self.client.json("GET", f"/processes/{process}") or {}).get("status")
            if status == "completed":
                return True
        return False

    def _confirm_import(self, list_id: int, chunk: Sequence[Member], since: datetime) -> PushBatch:
        """Read the list's members modified since the import started: those are the contacts it created."""
        want = {normalize_email(m.email): m for m in chunk}
        found: dict[str, str] = {}
        for member in self.members(list_id, {"modifiedSince": brevo_time(since.timestamp())}):
            if member.email in want:
                found[member.email] = member.external_id or ""
        batch = PushBatch()
        for email, m in want.items():
            if email in found:
                batch.added.append(m.contact_id)
                if found[email]:
                    batch.external_ids[m.contact_id] = found[email]
            else:  # Brevo refused it (an invalid address, say): the next run tries again
                batch.missing.append(m.contact_id)
        return batch
