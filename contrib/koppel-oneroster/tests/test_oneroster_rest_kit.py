"""The OneRoster REST consumer keeps every promise of koppel's contract-test kit, served over
real HTTP by the test service (tests/oneroster_rest_upstream.py)."""

from __future__ import annotations

import pytest
from oneroster_rest_upstream import CLIENT_ID, CLIENT_SECRET, RestService, RestUpstream, running

from koppel.testing import RULES
from koppel_oneroster.rest_client import OneRosterClient
from koppel_oneroster.rest_source import OneRosterRestSource


@pytest.fixture
def koppel_upstream():
    with running(RestService({})) as service:
        yield RestUpstream(service)


@pytest.fixture
def koppel_source(koppel_upstream):
    url = koppel_upstream.service.url
    client = OneRosterClient(
        base_url=url,
        token_url=f"{url}/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        page_size=3,  # every listing spans pages, so the kit's rules are checked across them
    )
    yield OneRosterRestSource(client)
    client.close()


@pytest.mark.parametrize("rule", RULES)
def test_oneroster_rest_keeps_the_rule(koppel_contract, rule):
    koppel_contract.check(rule)
