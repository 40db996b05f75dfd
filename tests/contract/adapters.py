"""The adapters under contract: one harness builder per venue adapter.

A harness gives the contract tests (test_venue_contract.py) a `VenueAdapter` against a
venue's simulator, accounts on it (good, another one, bad credentials), what to trade,
the simulator's record of what it executed, and its fault switches under the contract's
names. A new adapter is a new builder here and a new name in `ADAPTERS`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from switchyard.domain import AccountId, Venue
from switchyard.sim.mt5.server import SimAccount, start_in_subprocess, write_accounts
from switchyard.vault import Vault
from tests.worker import exchange_helpers
from tests.worker.helpers import SIM_ACCOUNTS, address, set_faults
from worker.leases import LeaseClock
from worker.venue import Account, VenueAdapter
from worker.venues.mt5.adapter import Mt5Venue
from worker.venues.mt5.bridge import Bridge
from worker.venues.mt5.terminal import TerminalSession

#: The contract's fault switches (`Harness.arm`), each for the next request of its kind:
#: "wrong_account": the next login reports success but the session stays elsewhere;
#: "lost_result": the next order executes and its answer is lost;
#: "dropped_answer": the next order executes and the connection drops before the answer.
#: An adapter whose venue cannot have one is not collected for the test that arms it (`CAN`).
FAULTS = ("wrong_account", "lost_result", "dropped_answer")


@dataclass
class Harness:
    name: str
    venue: VenueAdapter
    #: Credentials that work, another account of the same venue, and a wrong secret.
    good: Account
    other: Account
    bad: Account
    symbol: str
    volume: Decimal
    #: A limit buy price far below the market: such an order rests until cancelled.
    resting_price: Decimal
    #: The client order ids of every request the venue executed, in order.
    executed: Callable[[], list[str]]
    arm: Callable[[str], None]
    #: Whether the venue keeps positions that a close acts on (MT5; perpetual swaps).
    has_positions: bool = True


def _mt5_account(vault: Vault, sim_acc: SimAccount, password: str | None = None) -> Account:
    account_id = AccountId(uuid.uuid4())
    sealed = vault.seal(account_id, {"password": password or sim_acc["password"]})
    return Account(
        id=account_id,
        user_id=uuid.uuid4(),
        venue=Venue.MT5,
        login=str(sim_acc["login"]),
        server=sim_acc["server"],
        environment="demo",
        status="verified",
        is_active=True,
        ciphertext=sealed.ciphertext,
    )


@contextmanager
def mt5(tmp_path: Path, vault: Vault) -> Iterator[Harness]:
    """MT5 through the real mt5linux client against the simulated terminal over TCP."""
    accounts = write_accounts(tmp_path / "accounts.json", SIM_ACCOUNTS)
    sim = start_in_subprocess(
        accounts, tmp_path / "journal.jsonl", seed=11, state_path=tmp_path / "state.json"
    )
    lease = LeaseClock("contract terminal")
    lease.renewed(3600)
    bridge = Bridge(address(sim), call_timeout_s=5, login_timeout_s=5)
    switches = {
        "wrong_account": "wrong_account_next_logins",
        "lost_result": "lose_next_send_results",
        "dropped_answer": "drop_after_next_sends",
    }

    def arm(fault: str) -> None:
        assert fault in switches, f"the simulated terminal has no fault {fault!r}"
        set_faults(sim, **{switches[fault]: 1})

    try:
        yield Harness(
            name="mt5",
            venue=Mt5Venue(
                TerminalSession(bridge, vault, lease, send_margin_s=6),
                magic=20261121,
                call_timeout_s=5,
            ),
            good=_mt5_account(vault, SIM_ACCOUNTS[0]),
            other=_mt5_account(vault, SIM_ACCOUNTS[1]),
            bad=_mt5_account(vault, SIM_ACCOUNTS[2], password="not-the-password"),
            symbol="EURUSD",
            volume=Decimal("0.1"),
            resting_price=Decimal("0.5"),
            executed=lambda: [record["comment"] for record in sim.journal()],
            arm=arm,
        )
    finally:
        bridge.close()
        sim.stop()


Builder = Callable[[Path, Vault], AbstractContextManager[Harness]]

#: Every adapter the contract runs against: MT5, and each exchange (below).
ADAPTERS: dict[str, Builder] = {"mt5": mt5}


def exchange(name: str) -> Builder:
    """An exchange through the worker's ccxt adapter against the simulated exchange."""

    @contextmanager
    def build(tmp_path: Path, vault: Vault) -> Iterator[Harness]:
        sim = exchange_helpers.fresh(exchange_helpers.simulator())
        start = len(sim.ledger())
        faults = {"lost_result": "hold", "dropped_answer": "drop"}

        def arm(fault: str) -> None:
            # a test that asks for what an exchange cannot show is not collected for it
            assert fault in faults, f"{name} has no {fault!r} (see CAN)"
            sim.control("faults", {"kind": faults[fault], "exchange": name, "hold_s": 4})

        symbol = exchange_helpers.SYMBOL[name]
        with exchange_helpers.exchange_venue(sim, vault, timeout_s=2.0) as venue:
            yield Harness(
                name=name,
                venue=venue,
                good=exchange_helpers.account(vault, name),
                other=exchange_helpers.account(vault, f"{name}-other"),
                bad=exchange_helpers.account(
                    vault, name, api_secret=exchange_helpers.wrong_secret(name)
                ),
                symbol=symbol,
                volume=Decimal("0.01"),
                resting_price=Decimal("30000"),
                executed=lambda: exchange_helpers.executed(sim, name, start),
                arm=arm,
                has_positions="positions" in CAN[name],
            )

    return build


ADAPTERS.update({name: exchange(name) for name in exchange_helpers.EXCHANGES})

#: What each adapter can be made to show, beyond what the whole contract asks of every one:
#: `wrong_account`, a session that lands on another account (an exchange API key *is* its
#: account, so it cannot), `positions` (a spot market keeps none) and `leverage`, set per
#: symbol by an order (a perpetual's; MT5's is the account's, spot has none). A test that
#: needs one is collected only for the adapters that have it (`able`), never skipped.
CAN: dict[str, frozenset[str]] = {
    "mt5": frozenset({"wrong_account", "positions"}),
    **{
        name: frozenset(
            {"positions", "leverage"} if exchange_helpers.SYMBOL[name].endswith(":USDT") else ()
        )
        for name in exchange_helpers.EXCHANGES
    },
}


def able(capability: str) -> list[str]:
    """The adapters that can show `capability`, for `parametrize("harness", ..., indirect=True)`."""
    return sorted(name for name in ADAPTERS if capability in CAN[name])
