"""The wrong-account fault: login() reports success, the terminal is on another account.

(A terminal someone switched by hand, or a login that did not take: what the worker's
check of account_info() after every login is for.)
"""

from collections.abc import Callable
from typing import Any

from mt5linux import MetaTrader5

from switchyard.sim.mt5.server import DEMO_SERVER as SERVER
from switchyard.sim.mt5.server import SimAccount

LogIn = Callable[[MetaTrader5, SimAccount], None]


def test_a_misrouted_login_says_true_but_the_terminal_stays_on_the_account_it_was_on(
    mt5: MetaTrader5, log_in: LogIn, accounts: Any, control: Any
) -> None:
    log_in(mt5, accounts.alice)
    control.set_faults(wrong_account_next_logins=1)
    bob = accounts.bob
    assert mt5.login(bob["login"], password=bob["password"], server=SERVER) is True
    assert mt5.last_error()[0] == mt5.RES_S_OK
    assert mt5.account_info().login == accounts.alice["login"]
    log_in(mt5, bob)  # only the next login was misrouted
    assert mt5.account_info().login == bob["login"]


def test_a_misrouted_login_from_no_account_lands_on_another_one(
    mt5: MetaTrader5, accounts: Any, control: Any
) -> None:
    control.set_faults(wrong_account_next_logins=1)
    bob = accounts.bob
    assert mt5.login(bob["login"], password=bob["password"], server=SERVER) is True
    info = mt5.account_info()
    assert info is not None
    assert info.login != bob["login"]
    assert info.server == SERVER


def test_a_misrouted_login_still_refuses_a_wrong_password(
    mt5: MetaTrader5, log_in: LogIn, accounts: Any, control: Any
) -> None:
    log_in(mt5, accounts.alice)
    control.set_faults(wrong_account_next_logins=1)
    assert mt5.login(accounts.bob["login"], password="nope", server=SERVER) is False
    assert mt5.last_error() == (-6, "Terminal: Authorization failed")
