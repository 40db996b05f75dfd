"""What exchange sessions share and how they end: markets by reference, one HTTP session
and one budget per exchange, a bounded cache that closes what it evicts; and a symbol's
contract spec in base currency. Real ccxt against the simulated exchange."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from switchyard.domain import Venue
from tests.worker.exchange_helpers import account, exchange_venue, fresh, simulator
from worker.venue import Refusal, SymbolSpec
from worker.venues.exchange.exchanges import PROFILES


@pytest.mark.parametrize("exchange", ["bybit", "coinbase"])
def test_accounts_of_one_exchange_share_markets_session_and_budget(vault, exchange):
    sim = fresh(simulator())
    with exchange_venue(sim, vault, rate_scale=1.0) as venue:
        sessions = []
        for name in (exchange, f"{exchange}-other", f"{exchange}-read"):
            with venue.on_account(account(vault, name)) as session:
                assert session.account.balance == 10000
                sessions.append(session.exchange)
        first, *others = sessions
        for other in others:
            assert other is not first
            assert other.markets is first.markets  # by reference, not a copy
            assert other.session is first.session  # one aiohttp session per exchange
            assert other.throttler is first.throttler  # one budget per exchange + egress
            assert other.api is first.api  # ccxt's read-only tables, once
            assert other.apiKey != first.apiKey
        assert first.has["fetchCurrencies"] is False


def test_the_session_cache_is_bounded_and_closes_what_it_evicts(vault):
    sim = fresh(simulator())
    with exchange_venue(sim, vault, max_clients=2) as venue:
        clients = []
        for name in ("okx", "okx-other", "okx-read"):
            acc = account(vault, name)
            with venue.on_account(acc) as session:
                assert session.account.balance == 10000
                clients.append(session.client)
        assert len(venue.clients) == 2
        evicted = clients[0].exchange
        deadline = time.monotonic() + 5
        while not evicted.closed_by_user:
            assert time.monotonic() < deadline, "the evicted session was not closed"
            time.sleep(0.02)
        assert evicted.session is None
        assert not clients[1].exchange.closed_by_user


def test_a_symbols_spec_is_stated_in_base_currency(vault):
    sim = fresh(simulator())
    with exchange_venue(sim, vault) as venue, venue.on_account(account(vault, "okx")) as session:
        perp = session.symbol_spec("BTC/USDT:USDT")
        spot = session.symbol_spec("BTC/USDT")
        missing = session.symbol_spec("NOPE/USDT")
    assert isinstance(perp, SymbolSpec)
    assert isinstance(spot, SymbolSpec)
    # OKX counts BTC-USDT-SWAP in contracts of 0.01 BTC, in steps of 0.1 contract.
    assert (perp.volume_step, perp.volume_min, perp.contract_size) == (
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal(1),
    )
    assert spot.volume_min == Decimal("0.00001")
    # a subscription's leverage multiplies the perpetual, never a spot purchase
    assert (perp.margined, spot.margined) == (True, False)
    assert perp.bid <= perp.ask
    assert 60000 < perp.ask < 70000
    assert isinstance(missing, Refusal)


def test_every_exchange_has_its_profile_and_every_environment_it_offers():
    assert set(PROFILES) == {Venue.BINANCE, Venue.BYBIT, Venue.OKX, Venue.COINBASE}
    for profile in PROFILES.values():
        offered = {"live"} if profile.venue is Venue.COINBASE else {"testnet", "demo", "live"}
        assert set(profile.environments) == offered
        assert profile.client_ids.of("sy" + "0123456789abcdef01234567") == (
            "sy0123456789abcdef01234567"
        )


def test_one_accounts_sessions_are_serial_even_on_two_threads(vault):
    # The unique index on running jobs keeps two jobs of one account apart across
    # workers; inside one worker a job rescued from a stalled lane runs on the same
    # client, and the client's lock makes the second session wait for the first.
    sim = fresh(simulator())
    acc = account(vault, "bybit")
    first_inside, release, second_inside = threading.Event(), threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def hold_a_session(inside: threading.Event, wait_for: threading.Event | None) -> None:
        try:
            with venue.on_account(acc) as session:
                inside.set()
                assert session.account.balance == 10000
                if wait_for is not None:
                    assert wait_for.wait(10)
        except BaseException as exc:
            failures.append(exc)
            inside.set()

    with exchange_venue(sim, vault) as venue:
        first = threading.Thread(target=hold_a_session, args=(first_inside, release))
        first.start()
        try:
            assert first_inside.wait(10)
            second = threading.Thread(target=hold_a_session, args=(second_inside, None))
            second.start()
            assert not second_inside.wait(1.0)  # the account's session is in use
        finally:
            release.set()
            first.join(10)
        assert second_inside.wait(10)
        second.join(10)
    assert failures == []
