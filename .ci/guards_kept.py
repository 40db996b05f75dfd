"""The guards of invariants 5 and 7: nothing accepted is lost, nothing fails silently,
nothing is sent late.

Collected into GUARDS by `guard_table.py`. Standard library only.
"""

from __future__ import annotations

from guard_model import (
    GUARDS_T,
    KINDS_T,
    LANE_T,
    QUEUE_T,
    TTL_T,
    Guard,
    W,
)

KEPT: tuple[Guard, ...] = (
    # -- invariant 5: nothing accepted is lost ------------------------------------------
    Guard(
        "M47",
        5,
        "migrations:function private.claim_job",
        "the claim rescues running jobs whose lease expired (a crashed worker's)",
        "     where j.status = 'running' and j.lease_expires_at < now()\n",
        "     where false\n",
        (f"{QUEUE_T}::test_a_job_whose_lease_expired_is_rescued_first_and_marked_so",),
    ),
    Guard(
        "M48",
        5,
        "sql/queries/worker.sql",
        "the heartbeat renews only the jobs live lanes hold, never every job with our name",
        " where id = any(%(ids)s::uuid[]) and status = 'running' and lease_owner = %(owner)s\n",
        " where status = 'running' and lease_owner = %(owner)s\n",
        (f"{LANE_T}::test_the_job_of_a_lane_that_died_is_no_longer_renewed",),
    ),
    Guard(
        "M49",
        5,
        "worker/lane.py",
        "a lane drops its job from the heartbeat's renewals when the job ends or the lane dies",
        "        finally:\n            self.holdings.drop_job(job.id)\n",
        "        finally:\n            pass\n",
        (f"{LANE_T}::test_the_job_of_a_lane_that_died_is_no_longer_renewed",),
    ),
    Guard(
        "M50",
        5,
        "worker/lane.py",
        "a handler that raises (a bug) still ends its job with a reason; the lane goes on",
        "        except DatabaseError:\n            raise\n        except Exception:  # a bug",
        "        except DatabaseError:\n            raise\n"
        "        except ZeroDivisionError:  # a bug",
        (f"{LANE_T}::test_a_handler_that_raises_fails_its_job_with_a_reason_and_the_lane_goes_on",),
    ),
    Guard(
        "M51",
        5,
        "worker/lane.py",
        "an outcome that could not be written back is written once more as an internal error",
        "        except Exception:  # once more, as an internal error; "
        "a second failure ends the lane\n",
        "        except ZeroDivisionError:  # once more\n",
        (
            f"{LANE_T}::test_a_job_whose_outcome_could_not_be_written_is_answered_from_the_journal_not_resent",
        ),
    ),
    Guard(
        "M52",
        5,
        "worker/lane.py",
        "retries are capped by max_attempts: a job that never succeeds ends failed",
        "        if job.attempts >= job.max_attempts + extra:\n",
        "        if False:\n",
        (f"{GUARDS_T}::test_a_requote_that_never_clears_fails_after_max_attempts",),
    ),
    Guard(
        "M53",
        5,
        "worker/trading/dispatch.py",
        "the job of an account deleted meanwhile ends failed with that reason",
        "        if account is None:\n"
        '            return failed(ErrorCode.ACCOUNT_UNAVAILABLE, "the account no longer exists")\n'
        "        if job.kind",
        "        if account is None:\n"
        "            raise DatabaseError('the account vanished')\n"
        "        if job.kind",
        (f"{KINDS_T}::test_a_job_whose_account_was_deleted_is_ended_by_its_venues_lane",),
    ),
    Guard(
        "M54",
        5,
        "migrations:function private.fail_unserved_jobs",
        "a queued MT5 job whose server no known terminal serves fails at once with that "
        "reason (venue_unavailable), never left queued (it replaced the UnservedLane: jobs "
        "of an exchange no lane of this worker serves stay queued for a worker that has one)",
        "           and not exists (select 1 from private.terminals t\n"
        "                            where private.serves(t.servers, a.server))\n",
        "           and false\n",
        (
            f"{W}/test_terminal_routing.py::test_an_account_whose_server_no_terminal_serves_fails_at_once_with_that_reason",
        ),
    ),
    Guard(
        "M55",
        5,
        "worker/deals.py",
        "a deal id reported with other content is counted, logged and audited, never merged",
        "        if stored is None:\n            continue  # the same deal, read again\n",
        "        if True:\n            continue  # the same deal, read again\n",
        (
            f"{W}/test_deal_conflicts.py::test_a_deal_reported_with_other_content_is_counted_logged_audited_and_not_merged",
        ),
    ),
    Guard(
        "M56",
        5,
        "migrations:function private.cancel_jobs_of_deleted_account",
        "deleting an account cancels its queued jobs (never run later, never left queued)",
        "     where account_id = old.id and status = 'queued';\n",
        "     where false;\n",
        (
            "tests/functions/test_accounts.py::test_delete_removes_secrets_cancels_queued_jobs_keeps_history",
        ),
    ),
    Guard(
        "M73",
        5,
        "worker/venues/exchange/exchanges/coinbase.py",
        "a Coinbase 401 with the worker's clock more than 30 s off is the clock's fault: the "
        "job is retried with that reason, the account (its key fine) is not disabled",
        "    if abs(off_ms) <= CLOCK_TOLERANCE_MS:\n        return None\n",
        "    if True:\n        return None\n",
        (
            f"{W}/test_coinbase.py::test_a_skewed_worker_clock_is_refused_by_coinbase_and_nothing_is_sent",
        ),
    ),
    # -- invariant 7: nothing fails silently; nothing sent late -------------------------
    Guard(
        "M65",
        7,
        "worker/venues/mt5/terminal_lane.py",
        "a lane that ends releases its terminal lease, so another worker takes over at once",
        "                    self.conn.execute(\n"
        '                        queries["release_terminal"], '
        '{"address": self.address, "owner": self.owner}\n'
        "                    )\n",
        "                    pass\n",
        (f"{LANE_T}::test_the_job_of_a_lane_that_died_is_no_longer_renewed",),
    ),
    Guard(
        "M57",
        7,
        "worker/process.py",
        "a thread that died takes the worker down with EXIT_THREAD_DIED",
        "            dead = self.dead_threads()\n            if dead:\n",
        "            dead = self.dead_threads()\n            if False:\n",
        (
            f"{LANE_T}::test_a_worker_whose_lane_died_exits_non_zero_and_another_worker_rescues_its_job",
        ),
    ),
    Guard(
        "M58",
        7,
        "worker/trading/sending.py",
        "the time-to-live is checked again right before the send (after a slow login)",
        "    if ctx.deadline.passed():\n"
        '        ctx.journal.outcome(user, coid, "rejected", '
        'reason="not sent: its time-to-live ran out")\n',
        "    if False:\n"
        '        ctx.journal.outcome(user, coid, "rejected", '
        'reason="not sent: its time-to-live ran out")\n',
        (f"{TTL_T}::test_a_login_that_ends_after_the_deadline_sends_nothing",),
    ),
    Guard(
        "M59",
        7,
        "worker/trading/reconcile.py",
        "a job past its deadline with nothing to look up ends before any login",
        "    if ctx.deadline.passed() and "
        "(entry is None or entry.status not in UNSURE_STATUSES):\n",
        "    if False:\n",
        (
            f"{TTL_T}::test_a_rescued_job_past_its_deadline_with_nothing_to_look_up_ends_before_any_login",
        ),
    ),
    Guard(
        "M60",
        7,
        "worker/lane.py",
        "a retry that would come after the deadline is cancelled `expired` instead",
        "        if not ambiguous and job.deadline.passed(within_s=delay):\n",
        "        if False:\n",
        (f"{TTL_T}::test_a_requote_is_not_retried_when_the_retry_would_come_after_the_deadline",),
    ),
    Guard(
        "M61",
        7,
        "worker/queue.py",
        "the claimed job's deadline comes from the database's expires_in_s",
        '            deadline=Deadline.after(claimed_at, row["expires_in_s"]),\n',
        "            deadline=Deadline.after(claimed_at, None),\n",
        (f"{TTL_T}::test_a_login_that_ends_after_the_deadline_sends_nothing",),
    ),
    Guard(
        "M62",
        7,
        "migrations:function private.claim_job",
        "every claim first cancels queued jobs past their time-to-live",
        "    perform private.expire_jobs();\n",
        "",
        (
            f"{TTL_T}::test_the_claim_cancels_expired_queued_jobs_and_says_how_long_the_claimed_one_has",
        ),
    ),
    Guard(
        "M63",
        7,
        "worker/schedule.py",
        "the scheduler's tick cancels expired jobs even while no lane claims",
        "                expired = expire(conn)\n",
        "                expired = 0\n",
        (f"{TTL_T}::test_the_scheduler_ends_expired_jobs_even_when_no_lane_claims",),
    ),
    Guard(
        "M64",
        7,
        "worker/config.py",
        "the worker refuses a lease too short to outlast one call plus two heartbeats",
        "    if settings.worker_lease_s <= needed_s:\n",
        "    if False:\n",
        (
            f"{W}/test_credentials_and_config.py::test_a_lease_shorter_than_a_call_and_two_heartbeats_is_refused",
        ),
    ),
    Guard(
        "M66",
        7,
        "migrations:function private.claim_job",
        "a trade is never kept behind the logged-in account's syncs: the preferred account's "
        "job overtakes only jobs of no higher priority, whatever the drain",
        "               and j.priority >= coalesce(v_priority, -32768)\n",
        "",
        (f"{GUARDS_T}::test_a_trade_is_not_kept_behind_the_logged_in_accounts_syncs",),
    ),
    Guard(
        "M74",
        7,
        "worker/venues/exchange/exchanges/binance.py",
        "Binance's -2015 (key revoked or IP not allowed), which ccxt raises as DDoSProtection "
        "after a successful call, means a refused key: the account is disabled with the "
        "reason, not retried as load for ever",
        "    credential_markers=('\"code\":-2015', '\"code\":-2014', '\"code\":-1022'),\n",
        "    credential_markers=('\"code\":-2014', '\"code\":-1022'),\n",
        (
            f"{W}/test_exchange_jobs.py::test_a_key_revoked_between_two_orders_disables_the_account_with_its_reason[binance]",
        ),
    ),
)
