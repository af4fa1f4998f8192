"""Shared fixture: a started Mailchimp sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pressure_connector_mailchimp.testing import MailchimpSandbox


@pytest.fixture
def sandbox() -> Iterator[MailchimpSandbox]:
    sb = MailchimpSandbox()
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()
