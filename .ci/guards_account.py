"""The guards of invariant 3: an order goes out only on the job's account, one user at a
time.

Collected into GUARDS by `guard_table.py`. Standard library only.
"""

from __future__ import annotations

from guard_model import (
    CONTRACT_T,
    GUARDS_T,
    KINDS_T,
    QUEUE_T,
    SAFETY_T,
    Guard,
    W,
)

ACCOUNT: tuple[Guard, ...] = (
    # -- invariant 3: the order goes out only on the job's account, one user at a time -----
    Guard(
        "M01",
        3,
        "worker/venues/mt5/terminal.py",
        "after a login, account_info() is checked again: a terminal that reports another "
        "account (or none) raises WrongAccount and nothing is sent",
        "        info = self.bridge.account_info()\n        if not matches(account, info):\n",
        "        info = self.bridge.account_info()\n        if False:\n",
        (
            f"{GUARDS_T}::test_a_login_that_lands_on_another_account_sends_nothing_and_says_so",
            f"{CONTRACT_T}::test_a_session_that_lands_on_another_account_is_refused_and_sends_nothing",
        ),
    ),
    Guard(
        "M02",
        3,
        "worker/venues/mt5/terminal.py",
        "no login is skipped unless the terminal already reports the job's account",
        "        if not force_login and matches(account, info):\n",
        "        if not force_login and info is not None:\n",
        (f"{SAFETY_T}::test_many_users_on_two_terminals_every_order_lands_on_its_owners_login",),
    ),
    Guard(
        "M03",
        3,
        "worker/venues/mt5/terminal.py",
        "the account match compares the trade server too, not only the login number",
        "info.login == login_of(account) and info.server == account.server",
        "info.login == login_of(account)",
        (
            f"{GUARDS_T}::test_the_same_login_on_another_server_is_logged_in_not_taken_for_the_one_on_the_terminal",
        ),
    ),
    Guard(
        "M04",
        3,
        "worker/venues/mt5/terminal.py",
        "the terminal lease is checked at the top of the critical section, before any "
        "login or send (a lapsed lease with the terminal still logged in sends nothing)",
        "        with self._lock:\n            self.terminal_lease.require(self.send_margin_s)\n",
        "        with self._lock:\n",
        (
            f"{GUARDS_T}::test_a_lapsed_terminal_lease_stops_the_send_though_the_terminal_is_still_logged_in",
            f"{GUARDS_T}::test_a_verification_does_not_log_in_on_a_terminal_whose_lease_lapsed",
        ),
    ),
    Guard(
        "M05",
        3,
        "worker/venues/mt5/terminal.py",
        "the terminal lease is checked again after a (slow) login, before the send",
        "        # A login can take long: the lease must still cover what the caller does next.\n"
        "        self.terminal_lease.require(self.send_margin_s)\n",
        "",
        (f"{GUARDS_T}::test_a_terminal_lease_lost_during_a_login_stops_the_send_after_it",),
    ),
    Guard(
        "M06",
        3,
        "worker/venues/mt5/terminal.py",
        "the critical section holds the terminal's lock: two sessions (two users) never "
        "interleave on one terminal between the account check and the send",
        "        with self._lock:\n            self.terminal_lease.require",
        "        if True:\n            self.terminal_lease.require",
        (f"{GUARDS_T}::test_two_users_never_share_the_critical_section_of_one_terminal",),
    ),
    Guard(
        "M07",
        3,
        "worker/venues/mt5/terminal.py",
        "a login the terminal answers False is not taken for a login",
        "        if answer.ok:\n            return\n",
        "        if True:\n            return\n",
        (
            f"{KINDS_T}::test_verify_with_a_wrong_password_fails_the_account_with_the_terminals_reason",
            f"{CONTRACT_T}::test_bad_credentials_are_refused_before_the_session_begins",
        ),
    ),
    Guard(
        "M08",
        3,
        "worker/venues/mt5/bridge.py",
        "a login that does not come back (timeout, dropped connection) raises "
        "AmbiguousOutcome: the terminal may be on either account",
        "            raise AmbiguousOutcome(\n"
        '                f"the login to {login}@{server} on {self.address} did not come back "\n',
        "            return LoginAnswer(ok=False, error=LastError(code=-6, message='x'))\n"
        "            raise AmbiguousOutcome(\n"
        '                f"the login to {login}@{server} on {self.address} did not come back "\n',
        (f"{SAFETY_T}::test_a_hung_login_sends_nothing_until_the_terminal_is_verified",),
    ),
    Guard(
        "M09",
        3,
        "worker/trading/dispatch.py",
        "a trade of an account that is not verified (disabled, failed, pending) fails "
        "before the terminal is touched",
        '            if account.status != "verified":\n',
        "            if False:\n",
        (f"{KINDS_T}::test_trades_of_a_disabled_account_fail_without_touching_the_terminal",),
    ),
    Guard(
        "M10",
        3,
        "worker/trading/dispatch.py",
        "a trade of an account its owner switched off fails before the terminal is touched",
        "            if not account.is_active:\n",
        "            if False:\n",
        (f"{W}/test_guards.py::test_a_switched_off_account_trades_nothing",),
    ),
    Guard(
        "M11",
        3,
        "migrations:function private.acquire_terminal",
        "acquire_terminal takes a terminal only when it is free, already ours, or its "
        "lease expired: one terminal, one worker",
        "     where t.lease_owner is null or t.lease_owner = excluded.lease_owner\n"
        "        or t.lease_expires_at < now()\n",
        "",
        (f"{GUARDS_T}::test_a_terminal_leased_by_another_worker_is_not_taken",),
    ),
    Guard(
        "M12",
        3,
        "sql/queries/worker.sql",
        "the heartbeat renews only terminals this worker still owns",
        " where address = any(%(addresses)s::text[]) and lease_owner = %(owner)s\n",
        " where address = any(%(addresses)s::text[])\n",
        (
            f"{GUARDS_T}::test_a_lapsed_terminal_lease_stops_the_send_though_the_terminal_is_still_logged_in",
        ),
    ),
    Guard(
        "M13",
        3,
        "sql/queries/worker.sql",
        "the heartbeat does not revive a terminal lease that already lapsed (another "
        "worker may have used the terminal meanwhile)",
        "   and lease_expires_at >= now()\nreturning address\n",
        "returning address\n",
        (f"{GUARDS_T}::test_the_heartbeat_does_not_revive_a_terminal_lease_that_lapsed",),
    ),
    Guard(
        "M14",
        3,
        "worker/venues/mt5/terminal_lane.py",
        "a lane claims only while its terminal lease outlasts a call (else it re-acquires)",
        "        if self.terminal_lease.remaining_s() > self.send_margin_s:\n"
        "            return True\n",
        "        if True:\n            return True\n",
        (f"{GUARDS_T}::test_a_terminal_leased_by_another_worker_is_not_taken",),
    ),
    Guard(
        "M15",
        3,
        "worker/leases.py",
        "a lease is used for a venue call only while more than the call's timeout of it "
        "remains, not merely while it has not lapsed",
        "        if remaining < at_least_s:\n",
        "        if remaining < 0:\n",
        (f"{GUARDS_T}::test_a_lease_is_not_used_once_less_than_a_call_of_it_remains",),
    ),
    Guard(
        "M16",
        3,
        "worker/leases.py",
        "a lease the heartbeat did not confirm is lost locally at once",
        "                    elif since < at:\n                        clock.lost()\n",
        "                    elif False:\n                        clock.lost()\n",
        (
            f"{GUARDS_T}::test_a_job_whose_lease_was_lost_is_not_sent",
            f"{GUARDS_T}::test_a_lapsed_terminal_lease_stops_the_send_though_the_terminal_is_still_logged_in",
        ),
    ),
    Guard(
        "M17",
        3,
        "worker/venues/mt5/terminal_lane.py",
        "the drain's time bound: once the lane has drained the logged-in account for "
        "drain_s, it asks the claim to let another account's job due that long go first "
        "(SWITCHYARD_WORKER_DRAIN_S; it replaced the fairness streak)",
        "            and (time.monotonic() - self._drain_started >= self.drain_s)\n",
        "            and False\n",
        (f"{GUARDS_T}::test_one_busy_account_cannot_starve_another",),
    ),
    Guard(
        "M18",
        3,
        "migrations:function private.claim_job",
        "the wait rule in the claim: no preference for the logged-in account once a job of "
        "another account (that this terminal may take) has been due for p_fair_wait_s",
        "    if v_prefer is not null and p_fair_wait_s is not null and exists (\n",
        "    if false and exists (\n",
        (
            f"{QUEUE_T}::test_a_lane_prefers_the_logged_in_account_until_another_job_waited_too_long",
            f"{GUARDS_T}::test_one_busy_account_cannot_starve_another",
        ),
    ),
    # the exchange adapter (worker/venues/exchange): the key is the account
    Guard(
        "M67",
        3,
        "worker/venues/exchange/adapter.py",
        "one account's exchange sessions are serial: a session holds its client's lock, so "
        "a job rescued from a stalled lane of the same worker waits for the first to end",
        "        with client.lock:\n            session = ExchangeSession(self, client)\n",
        "        if True:\n            session = ExchangeSession(self, client)\n",
        (
            f"{W}/test_exchange_sessions.py::test_one_accounts_sessions_are_serial_even_on_two_threads",
        ),
    ),
    Guard(
        "M68",
        3,
        "worker/venues/exchange/adapter.py",
        "a key that may withdraw funds is refused when the account is verified (unless the "
        "operator allows it), with how to make a trade-only key",
        '        if found.get("known") and found.get("withdraw")'
        " and not self.venue.allow_withdraw:\n",
        "        if False:\n",
        (
            f"{W}/test_exchange_jobs.py::test_a_key_that_can_withdraw_is_refused_with_how_to_make_a_trade_only_key[binance]",
            f"{W}/test_coinbase.py::test_a_key_that_can_transfer_funds_is_refused_like_a_withdraw_key",
        ),
    ),
    Guard(
        "M69",
        3,
        "worker/venues/exchange/exchanges/coinbase.py",
        "a Coinbase key that can transfer funds out counts as one that may withdraw (refused)",
        '        withdraw=bool(answer.get("can_transfer")),\n',
        "        withdraw=False,\n",
        (
            f"{W}/test_coinbase.py::test_a_key_that_can_transfer_funds_is_refused_like_a_withdraw_key",
        ),
    ),
)
