"""The API shows the domain's vocabulary, spelled once in `switchyard.domain`.

The OpenAPI lists the venues, account and job statuses and job kinds inline, exactly as
the enums hold them; a refusal names the allowed values; a validation error's field name
drops the tags and member names pydantic adds, both read from the request models.
"""

from __future__ import annotations

import pytest

from functions.api.fields import BODY_TAGS, MEMBER_STEPS, field_name
from functions.app import create_app
from switchyard.domain import EXCHANGE_VENUES, AccountStatus, JobKind, JobStatus, Venue
from tests.functions.helpers import bearer, exchange_body

pytestmark = pytest.mark.anyio


def values(members) -> list[str]:
    return [member.value for member in members]


def test_the_document_lists_the_domain_enums_inline(api_settings):
    schemas = create_app(api_settings).openapi()["components"]["schemas"]
    exchange = schemas["ConnectExchange"]["properties"]["exchange"]
    assert exchange == {
        "type": "string",
        "enum": values(v for v in Venue if v in EXCHANGE_VENUES),
        "title": "Exchange",
    }
    assert exchange["enum"] == ["binance", "bybit", "okx", "coinbase"]
    assert schemas["ConnectExchange"]["examples"][0]["exchange"] == "okx"
    account = schemas["AccountOut"]["properties"]
    assert account["venue"]["enum"] == values(Venue)
    assert account["status"]["enum"] == values(AccountStatus)
    assert schemas["JobOut"]["properties"]["kind"]["enum"] == values(JobKind)
    assert schemas["JobOut"]["properties"]["status"]["enum"] == values(JobStatus)


async def test_an_unknown_exchange_is_refused_naming_the_exchanges(client, users):
    alice, _ = users
    response = await client.post(
        "/v1/accounts", json=exchange_body(exchange="mt5"), headers=bearer(alice)
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error == {
        "field": "exchange",
        "message": "Input should be 'binance', 'bybit', 'okx' or 'coinbase'",
    }


def test_field_names_drop_the_steps_pydantic_adds():
    assert {"open", "close", "modify", "cancel", "mt5", "exchange"} == BODY_TAGS
    assert {"Mt5Credentials", "ExchangeCredentials"} == MEMBER_STEPS
    assert field_name(("body", "open", "volume")) == "volume"
    assert field_name(("body", "credentials", "Mt5Credentials", "password")) == (
        "credentials.password"
    )
    assert field_name(("query", "wait")) == "query.wait"
    assert field_name(("body",)) == "body"
