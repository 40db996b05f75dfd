"""The guards of invariant 4: at most one effect at the venue.

Collected into GUARDS by `guard_table.py`. Standard library only.
"""

from __future__ import annotations

from guard_model import (
    CONTRACT_T,
    GUARDS_T,
    KINDS_T,
    LANE_T,
    QUEUE_T,
    SAFETY_T,
    TTL_T,
    Guard,
    W,
)

ONCE: tuple[Guard, ...] = (
    # -- invariant 4: at most one effect at the venue -------------------------------------
    Guard(
        "M19",
        4,
        "switchyard/domain.py",
        "the client order id is derived from the job id (the same on every attempt)",
        '    return ClientOrderId("sy" + job_id.hex[:24])\n',
        '    return ClientOrderId("sy" + __import__("uuid").uuid4().hex[:24])\n',
        (
            f"{SAFETY_T}::test_an_order_whose_result_is_lost_is_found_by_its_client_order_id_not_resent",
        ),
    ),
    Guard(
        "M20",
        4,
        "worker/venues/mt5/requests.py",
        "the client order id travels to the terminal in the order's comment",
        '        "comment": coid,\n        "type_time": ORDER_TIME_GTC,\n'
        "    }\n    if payload.type",
        '        "comment": "",\n        "type_time": ORDER_TIME_GTC,\n    }\n    if payload.type',
        (
            f"{KINDS_T}::test_market_order_is_filled_journalled_and_carries_the_client_order_id",
            f"{SAFETY_T}::test_an_order_whose_result_is_lost_is_found_by_its_client_order_id_not_resent",
        ),
    ),
    Guard(
        "M21",
        4,
        "worker/trading/reconcile.py",
        "after doubt (journal `sent`/`unknown`) the client order id is looked up before "
        "anything is sent",
        "    if entry is None or entry.status not in UNSURE_STATUSES:\n        return None\n"
        "    job, coid",
        "    if True:\n        return None\n    job, coid",
        (
            f"{SAFETY_T}::test_an_order_whose_result_is_lost_is_found_by_its_client_order_id_not_resent",
            f"{SAFETY_T}::test_a_connection_dropped_after_the_send_is_reconciled_not_resent",
        ),
    ),
    Guard(
        "M22",
        4,
        "worker/trading/reconcile.py",
        "an order found by its client order id settles the job; it is not sent again",
        "    if found is not None:\n",
        "    if False:\n",
        (
            f"{SAFETY_T}::test_an_order_whose_result_is_lost_is_found_by_its_client_order_id_not_resent",
        ),
    ),
    Guard(
        "M23",
        4,
        "worker/trading/reconcile.py",
        "an order provably never executed is not sent again past max_attempts",
        "    if job.attempts > job.max_attempts:\n        return _gave_up(ctx, coid)\n",
        "    if False:\n        return _gave_up(ctx, coid)\n",
        (f"{GUARDS_T}::test_an_ambiguous_order_that_never_happened_is_not_resent_after_the_cap",),
    ),
    Guard(
        "M24",
        4,
        "worker/venues/mt5/reports.py",
        "the look-up finds an opening order by its deals, orders and positions",
        '    """An opening order found at the terminal; None when it never happened."""\n',
        '    """An opening order found at the terminal; None when it never happened."""\n'
        "    return None\n",
        (
            f"{SAFETY_T}::test_an_order_whose_result_is_lost_is_found_by_its_client_order_id_not_resent",
            f"{CONTRACT_T}::test_after_an_ambiguous_answer_the_order_is_found_by_its_client_order_id",
        ),
    ),
    Guard(
        "M25",
        4,
        "worker/venues/mt5/reports.py",
        "the look-up finds a close by its closing deal",
        '    """A closing deal found at the terminal; None when it never happened."""\n',
        '    """A closing deal found at the terminal; None when it never happened."""\n'
        "    return None\n",
        (f"{SAFETY_T}::test_a_connection_dropped_after_the_send_is_reconciled_not_resent",),
    ),
    Guard(
        "M26",
        4,
        "worker/venues/mt5/adapter.py",
        "order_send that returns nothing is ambiguous (it may have executed), not a rejection",
        "        if result is None:\n            return Ambiguous(\n",
        "        if result is None:\n            return retcodes.verdict(retcodes.REQUOTE)\n"
        "            return Ambiguous(\n",
        (
            f"{SAFETY_T}::test_an_order_whose_result_is_lost_is_found_by_its_client_order_id_not_resent",
        ),
    ),
    Guard(
        "M27",
        4,
        "worker/venues/mt5/adapter.py",
        "an order_send whose connection drops is ambiguous, not a rejection",
        "        except AmbiguousOutcome as exc:\n"
        "            return Ambiguous(code=ErrorCode.VENUE_UNAVAILABLE, message=str(exc))\n",
        "        except AmbiguousOutcome as exc:\n"
        "            return retcodes.verdict(retcodes.REQUOTE)\n",
        (f"{SAFETY_T}::test_a_connection_dropped_after_the_send_is_reconciled_not_resent",),
    ),
    Guard(
        "M28",
        4,
        "worker/venues/mt5/retcodes.py",
        "timeout / connection / error retcodes are ambiguous: looked up before any resend",
        "    if retcode in AMBIGUOUS_RETCODES:\n",
        "    if False:\n",
        (
            f"{SAFETY_T}::test_a_timeout_retcode_is_looked_up_and_resent_only_because_it_did_not_happen",
        ),
    ),
    Guard(
        "M29",
        4,
        "worker/trading/sending.py",
        "an ambiguous verdict is journalled `unknown` (so the next attempt looks it up)",
        '            "unknown",\n            retcode=verdict.venue_code,\n',
        '            "rejected",\n            retcode=verdict.venue_code,\n',
        (
            f"{SAFETY_T}::test_an_order_whose_result_is_lost_is_found_by_its_client_order_id_not_resent",
        ),
    ),
    Guard(
        "M30",
        4,
        "worker/trading/sending.py",
        "the job lease must outlast the call before the send (a rescuer may own the job)",
        "    ctx.job_lease.require(ctx.send_margin_s)\n",
        "",
        (f"{GUARDS_T}::test_a_job_whose_lease_was_lost_is_not_sent",),
    ),
    Guard(
        "M31",
        4,
        "worker/trading/sending.py",
        "the journal's `sent` must be written (not already done) before the send",
        "    if not ctx.journal.sent(intent_of(ctx, prepared)):\n",
        "    if not ctx.journal.sent(intent_of(ctx, prepared)) and False:\n",
        (f"{GUARDS_T}::test_an_attempt_that_finds_the_journal_already_done_sends_nothing",),
    ),
    Guard(
        "M32",
        4,
        "sql/queries/worker.sql",
        "journal_sent never turns a done journal row back into `sent`",
        " where public.orders.status in ('rejected', 'sent', 'unknown')\n",
        "",
        (f"{GUARDS_T}::test_an_attempt_that_finds_the_journal_already_done_sends_nothing",),
    ),
    Guard(
        "M33",
        4,
        "worker/trading/orders.py",
        "an order whose journal row says done is answered from the journal, not resent",
        "        return refusal\n    entry = ctx.journal.get(ctx.job.user_id, ctx.coid)\n"
        "    if entry is not None and entry.status in DONE_STATUSES:\n",
        "        return refusal\n    entry = ctx.journal.get(ctx.job.user_id, ctx.coid)\n"
        "    if False:\n",
        (
            f"{LANE_T}::test_a_job_whose_outcome_could_not_be_written_is_answered_from_the_journal_not_resent",
        ),
    ),
    Guard(
        "M34",
        4,
        "worker/internal.py",
        "a bug after the journal row was written retries as ambiguous (look-up), never "
        "fails as if nothing was sent",
        "    if effect_possible(conn, job):\n",
        "    if False:\n",
        (f"{LANE_T}::test_an_error_after_the_send_is_settled_by_a_look_up_not_a_second_order",),
    ),
    Guard(
        "M35",
        4,
        "worker/trading/journal.py",
        "any journal row but `rejected` means the venue may have acted",
        '    return status is not None and status != "rejected"\n',
        '    return status in ("sent", "unknown")\n',
        (
            f"{LANE_T}::test_a_job_whose_outcome_could_not_be_written_is_answered_from_the_journal_not_resent",
        ),
    ),
    Guard(
        "M36",
        4,
        "worker/lane.py",
        "a retry after an attempt that may have reached the venue is treated as ambiguous "
        "whatever this attempt hit",
        "        ambiguous = outcome.ambiguous or effect_possible(queue.conn, job)\n",
        "        ambiguous = outcome.ambiguous\n",
        (
            f"{GUARDS_T}::test_an_order_whose_outcome_stays_unknown_is_looked_up_until_its_own_cap_and_says_so",
        ),
    ),
    Guard(
        "M37",
        4,
        "worker/lane.py",
        "look-ups after doubt get AMBIGUOUS_EXTRA_ATTEMPTS beyond max_attempts",
        "        extra = AMBIGUOUS_EXTRA_ATTEMPTS if ambiguous and not internal else 0\n",
        "        extra = 0\n",
        (
            f"{GUARDS_T}::test_an_order_whose_outcome_stays_unknown_is_looked_up_until_its_own_cap_and_says_so",
        ),
    ),
    Guard(
        "M38",
        4,
        "worker/lane.py",
        "a job that may have reached the venue is not cancelled as expired (it is looked up)",
        "        if not ambiguous and job.deadline.passed(within_s=delay):\n",
        "        if job.deadline.passed(within_s=delay):\n",
        (
            f"{TTL_T}::test_after_an_ambiguous_send_the_order_is_looked_up_past_the_deadline_and_succeeds",
        ),
    ),
    Guard(
        "M39",
        4,
        "migrations:function private.expire_jobs",
        "expire_jobs never cancels a job whose journal says an order may have gone out",
        "           and not exists (select 1 from public.orders o\n"
        "                            where o.job_id = e.id and o.status <> 'rejected')\n",
        "",
        (
            f"{TTL_T}::test_an_expired_job_whose_order_may_have_been_sent_is_handed_out_to_be_looked_up",
        ),
    ),
    Guard(
        "M40",
        4,
        "worker/trading/reconcile.py",
        "a job past its deadline whose order may have gone out is looked up, not cancelled",
        "    if ctx.deadline.passed() and "
        "(entry is None or entry.status not in UNSURE_STATUSES):\n",
        "    if ctx.deadline.passed():\n",
        (
            f"{TTL_T}::test_after_an_ambiguous_send_the_order_is_looked_up_past_the_deadline_and_succeeds",
        ),
    ),
    Guard(
        "M41",
        4,
        "migrations:function private.claim_job",
        "the claim locks the queued job it takes (SKIP LOCKED in the per-venue probe): two "
        "claimers never take one job",
        "                limit 1\n"
        "                  for update of j skip locked\n"
        "               ) c\n",
        "                limit 1\n               ) c\n",
        (
            f"{QUEUE_T}::test_a_queued_job_is_claimed_by_exactly_one_of_many_claimers",
            f"{QUEUE_T}::test_two_jobs_of_one_account_never_run_at_once_even_when_claimed_concurrently",
        ),
    ),
    Guard(
        "M42",
        4,
        "migrations:function private.claim_job",
        "the rescue of an expired lease locks the job it takes: two rescuers never take one",
        "     order by j.lease_expires_at\n     limit 1\n       for update of j skip locked;\n",
        "     order by j.lease_expires_at\n     limit 1;\n",
        (f"{QUEUE_T}::test_an_expired_lease_is_rescued_by_exactly_one_of_many_claimers",),
    ),
    Guard(
        "M43",
        4,
        "migrations:index jobs_one_running_per_account",
        "the schema allows one running job per account",
        "create unique index jobs_one_running_per_account on public.jobs (account_id)\n",
        "create index jobs_one_running_per_account on public.jobs (account_id)\n",
        (f"{QUEUE_T}::test_the_schema_refuses_a_second_running_job_of_an_account",),
    ),
    Guard(
        "M44",
        4,
        "sql/queries/worker.sql",
        "the heartbeat renews a job lease only while the job is still ours",
        " where id = any(%(ids)s::uuid[]) and status = 'running' and lease_owner = %(owner)s\n",
        " where id = any(%(ids)s::uuid[]) and status = 'running'\n",
        (f"{GUARDS_T}::test_a_job_whose_lease_was_lost_is_not_sent",),
    ),
    Guard(
        "M45",
        4,
        "sql/queries/worker.sql",
        "a worker that lost a job cannot complete it",
        "   set status = 'succeeded', result = %(result)s, error = null, finished_at = now(),\n"
        "       lease_owner = null, lease_expires_at = null\n"
        " where id = %(id)s and status = 'running' and lease_owner = %(owner)s\n",
        "   set status = 'succeeded', result = %(result)s, error = null, finished_at = now(),\n"
        "       lease_owner = null, lease_expires_at = null\n"
        " where id = %(id)s and status = 'running'\n",
        (f"{QUEUE_T}::test_a_worker_that_lost_a_job_can_no_longer_end_it_in_any_way",),
    ),
    Guard(
        "M46",
        4,
        "sql/queries/worker.sql",
        "a worker that lost a job cannot queue it again (while another worker runs it)",
        "       run_after = now() + make_interval(secs => %(delay_s)s),\n"
        "       lease_owner = null, lease_expires_at = null\n"
        " where id = %(id)s and status = 'running' and lease_owner = %(owner)s\n",
        "       run_after = now() + make_interval(secs => %(delay_s)s),\n"
        "       lease_owner = null, lease_expires_at = null\n"
        " where id = %(id)s and status = 'running'\n",
        (f"{QUEUE_T}::test_a_worker_that_lost_a_job_can_no_longer_end_it_in_any_way",),
    ),
    Guard(
        "M70",
        4,
        "worker/venues/exchange/tickets.py",
        "the exchange order carries the job's client order id (in the exchange's own param, "
        "spelled to its rule): what the look-up after an ambiguous answer finds",
        '            "params": {\n'
        "                profile.client_id_param: profile.client_ids.of(coid),\n"
        "                **extra,\n",
        '            "params": {\n                **extra,\n',
        (
            f"{CONTRACT_T}::test_after_an_ambiguous_answer_the_order_is_found_by_its_client_order_id[binance-lost_result]",
            f"{W}/test_coinbase.py::test_a_market_order_is_sent_once_with_the_jobs_client_order_id",
        ),
    ),
    Guard(
        "M75",
        4,
        "worker/venues/exchange/tickets.py",
        "the closing order of a perpetual position carries the close job's client order id "
        "too (what its look-up finds)",
        "                profile.client_id_param: profile.client_ids.of(coid),\n"
        "                **profile.reduce_only,\n",
        "                **profile.reduce_only,\n",
        (
            f"{CONTRACT_T}::test_a_position_is_closed_and_then_no_longer_reported[bybit]",
            f"{W}/test_exchange_jobs.py::test_a_perpetual_is_opened_and_closed_reduce_only[okx]",
        ),
    ),
    Guard(
        "M71",
        4,
        "worker/venues/exchange/adapter.py",
        "after an ambiguous answer the order is looked up by its client order id, and one "
        "found is reported done, never sent again",
        '        if order is None or order.get("status") == "rejected":\n',
        "        if True:\n",
        (
            f"{CONTRACT_T}::test_after_an_ambiguous_answer_the_order_is_found_by_its_client_order_id[okx-lost_result]",
            f"{W}/test_exchange_jobs.py::test_an_order_whose_answer_is_lost_after_executing_is_found_not_resent[drop-okx]",
        ),
    ),
    Guard(
        "M72",
        4,
        "worker/venues/exchange/errors.py",
        "the error table: a network error on a send (timeout, dropped answer, load) means "
        "the outcome is unknown: look the order up, never resend it as refused-at-the-door",
        "    (ccxt.NetworkError, _TRANSIENT),"
        "  # RequestTimeout, DDoSProtection, RateLimitExceeded…\n",
        "    (ccxt.NetworkError, Meaning(Kind.CLOCK, ErrorCode.VENUE_UNAVAILABLE)),\n",
        (
            f"{CONTRACT_T}::test_after_an_ambiguous_answer_the_order_is_found_by_its_client_order_id[bybit-dropped_answer]",
            f"{W}/test_exchange_jobs.py::test_an_order_whose_answer_is_lost_after_executing_is_found_not_resent[drop-bybit]",
        ),
    ),
)
