"""Reading report pages one GET at a time, or many at once through ``POST /batches``.

A :class:`Read` is one page of one campaign's report. :class:`Reader` answers a list of
them: directly, or as batch operations when there are at least ``batch_min_operations``
(``vendor-apis-mailchimp-sfmc.md`` §1.9: start, poll ``GET /batches/{batch_id}`` until
``finished``, fetch ``response_body_url``). The layout of the results archive is known from
third-party code only (a gzipped tar of JSON files of ``[{status_code, operation_id,
response}]``, ``response`` a JSON string), so anything else in it costs requests, never
data: every read the archive does not answer with a 200 is read directly afterwards.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import tarfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pressure_sdk.errors import ConnectorError, PayloadError
from pressure_sdk.http import HttpClient, dig
from pressure_sdk.http import client as http_client

from .streams import Report

if TYPE_CHECKING:
    from .connector import MailchimpConnector

log = logging.getLogger("pressure_connector_mailchimp")


@dataclass(eq=False)
class Read:
    """One page of one report of one campaign (``campaign`` is the report's parent record)."""

    stream: Report
    campaign: Mapping[str, Any]
    offset: int = 0

    @property
    def path(self) -> str:
        return self.stream.url(self.campaign)

    def params(self) -> dict[str, Any]:
        params = self.stream.params(None, self.campaign)
        if self.stream.paged:
            params["offset"] = self.offset
        return params

    def records(self, payload: Any) -> list[dict[str, Any]]:
        found = dig(payload, self.stream.records_path)
        if found is None:
            return []
        # decoded JSON: objects are dicts
        if not isinstance(found, list) or not all(type(r) is dict for r in found):
            msg = f"GET {self.path}: {'.'.join(self.stream.records_path)} is not a list of objects"
            raise PayloadError(msg, connector="mailchimp")
        return found

    def next_pages(self, records: list[dict[str, Any]], payload: Any, page_size: int) -> list[Read]:
        """The pages still to read after this one (whose ``records`` were read): all of them from the first page."""
        if not self.stream.paged or len(records) < page_size:
            return []
        total = payload.get("total_items") if isinstance(payload, Mapping) else None
        if isinstance(total, int) and not isinstance(total, bool):
            if self.offset:
                return []  # the first page scheduled them all
            return [Read(self.stream, self.campaign, o) for o in range(page_size, total, page_size)]
        return [Read(self.stream, self.campaign, self.offset + page_size)]


class Reader:
    """Answers reads for a connector: one GET each, or through ``POST /batches``."""

    def __init__(self, connector: MailchimpConnector) -> None:
        self.connector = connector
        self.settings = connector.settings
        #: the clock of ``batch_timeout`` (tests replace it)
        self.clock = time.monotonic
        self._archives: HttpClient | None = None

    @property
    def client(self) -> HttpClient:
        return self.connector.client

    def read(self, reads: Sequence[Read]) -> Iterator[tuple[Read, dict[str, Any]]]:
        minimum = self.settings.batch_min_operations
        if minimum and len(reads) >= minimum:
            yield from self._batched(reads)
        else:
            for read in reads:
                yield read, self.get(read)

    def get(self, read: Read) -> dict[str, Any]:
        payload = self.client.json("GET", read.path, params=read.params())
        if not isinstance(payload, dict):
            raise PayloadError(f"GET {read.path}: the answer is not an object", connector="mailchimp")
        return payload

    def _batched(self, reads: Sequence[Read]) -> Iterator[tuple[Read, dict[str, Any]]]:
        """``batch_max_operations`` reads per batch, every batch started before the first wait."""
        size = self.settings.batch_max_operations
        chunks = [list(reads[i : i + size]) for i in range(0, len(reads), size)]
        started = [(chunk, self._start(chunk)) for chunk in chunks]
        leftover: list[Read] = []
        deadline = self.clock() + self.settings.batch_timeout
        for chunk, batch_id in started:
            answered: set[int] = set()
            url = self._wait(batch_id, deadline)
            if url:
                for index, payload in self._results(url, batch_id, len(chunk)):
                    if index not in answered:
                        answered.add(index)
                        yield chunk[index], payload
            leftover += [read for i, read in enumerate(chunk) if i not in answered]
        if leftover:
            log.info("mailchimp: %d pages not answered by batch operations; read directly", len(leftover))
        for read in leftover:
            yield read, self.get(read)

    def _start(self, chunk: Sequence[Read]) -> str:
        # {operations: [{method, path, params, operation_id}]}: params are a GET's URL parameters
        operations = [
            {"method": "GET", "path": read.path, "params": read.params(), "operation_id": str(i)}
            for i, read in enumerate(chunk)
        ]
        # a repeated start only reads the same pages twice: safe to retry
        payload = self.client.json("POST", "/batches", json={"operations": operations}, idempotent=True)
        batch_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(batch_id, str) or not batch_id:
            raise PayloadError("POST /batches: the answer has no batch id", connector="mailchimp")
        return batch_id

    def _wait(self, batch_id: str, deadline: float) -> str | None:
        """Poll until ``finished``, waiting twice as long each time; the results URL, or None past the deadline."""
        wait = self.settings.batch_poll_interval
        path = f"/batches/{quote(batch_id, safe='')}"
        while True:
            http_client.sleep(wait)
            status = self.client.json("GET", path)
            if not isinstance(status, dict):
                raise PayloadError(f"GET {path}: the answer is not an object", connector="mailchimp")
            if status.get("status") == "finished":
                url = status.get("response_body_url")
                return url if isinstance(url, str) and url else None
            if self.clock() + wait > deadline:
                log.warning("mailchimp: batch %s not finished in time; its pages are read directly", batch_id)
                return None
            wait = min(max(wait * 2, 1.0), self.settings.batch_poll_max)

    def _results(self, url: str, batch_id: str, size: int) -> Iterator[tuple[int, dict[str, Any]]]:
        """(operation index, answer) of each operation the archive answers with a 200 and a JSON object.

        The archive is a storage link: it is fetched without the API key.
        """
        if self._archives is None:
            self._archives = HttpClient(
                "", connector="mailchimp", auth=None, timeout=self.settings.timeout, retry=self.settings.retry
            )
        try:
            content = self._archives.request("GET", url).content
        except ConnectorError as exc:  # a link that expired or a storage outage: read the pages directly
            log.warning("mailchimp: cannot fetch the results of batch %s (%s)", batch_id, exc)
            return
        try:
            tar = tarfile.open(fileobj=io.BytesIO(gzip.decompress(content)), mode="r:")
        except (OSError, EOFError, tarfile.TarError) as exc:
            log.warning("mailchimp: the results of batch %s are not a gzipped tar (%s)", batch_id, exc)
            return
        with tar:
            for member in tar:
                f = tar.extractfile(member) if member.isfile() else None
                if f is None:
                    continue
                try:
                    results = json.load(f)
                except ValueError:
                    log.warning("mailchimp: batch %s: %s is not JSON", batch_id, member.name)
                    continue
                for result in results if isinstance(results, list) else []:
                    answer = _operation(result, size)
                    if answer is not None:
                        yield answer

    def close(self) -> None:
        if self._archives is not None:
            self._archives.close()
            self._archives = None


def _operation(result: Any, size: int) -> tuple[int, dict[str, Any]] | None:
    if not isinstance(result, dict) or result.get("status_code") != 200:
        return None
    raw_id = result.get("operation_id")
    if not isinstance(raw_id, str) or not raw_id.isdigit() or int(raw_id) >= size:
        return None
    response = result.get("response")
    try:
        payload = json.loads(response) if isinstance(response, str) else response
    except ValueError:
        return None
    return (int(raw_id), payload) if isinstance(payload, dict) else None
