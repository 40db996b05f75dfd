-- The worker's queries: the queue, leases, the journal, the account data it syncs.

-- name: claim_job
select * from private.claim_job(
    %(owner)s, %(lease_s)s, %(lane)s, %(prefer_account)s, %(fair_wait_s)s
)

-- name: next_due_in_s
-- The next job that becomes due later (retries, delayed work); due ones were just tried.
select extract(epoch from min(run_after) - now())::float8 as due_in_s
  from public.jobs
 where status = 'queued' and run_after > now()

-- name: complete_job
update public.jobs
   set status = 'succeeded', result = %(result)s, error = null, finished_at = now(),
       lease_owner = null, lease_expires_at = null
 where id = %(id)s and status = 'running' and lease_owner = %(owner)s
returning id

-- name: fail_job
update public.jobs
   set status = 'failed', error = %(error)s, finished_at = now(),
       lease_owner = null, lease_expires_at = null
 where id = %(id)s and status = 'running' and lease_owner = %(owner)s
returning id

-- name: retry_job
update public.jobs
   set status = 'queued', error = %(error)s,
       run_after = now() + make_interval(secs => %(delay_s)s),
       lease_owner = null, lease_expires_at = null
 where id = %(id)s and status = 'running' and lease_owner = %(owner)s
returning id

-- name: extend_job_leases
update public.jobs
   set lease_expires_at = now() + make_interval(secs => %(lease_s)s)
 where status = 'running' and lease_owner = %(owner)s
returning id

-- name: job_status
select status, attempts, result, error from public.jobs where id = %(id)s

-- name: register_worker
insert into private.workers (id, name, pid, terminals)
values (%(id)s, %(name)s, %(pid)s, %(terminals)s)
on conflict (id) do update set heartbeat_at = now(), stopped_at = null

-- name: worker_heartbeat
update private.workers set heartbeat_at = now() where id = %(id)s

-- name: worker_stopped
update private.workers set stopped_at = now() where id = %(id)s

-- name: acquire_terminal
select * from private.acquire_terminal(%(address)s, %(owner)s, %(lease_s)s)

-- name: renew_terminals
update private.terminals
   set lease_expires_at = now() + make_interval(secs => %(lease_s)s)
 where lease_owner = %(owner)s and lease_expires_at >= now()
returning address

-- name: release_terminal
update private.terminals
   set lease_owner = null, lease_expires_at = null
 where address = %(address)s and lease_owner = %(owner)s

-- name: terminal_logged_in
update private.terminals
   set logged_in_account = %(account_id)s
 where address = %(address)s and lease_owner = %(owner)s

-- name: account_for_job
select a.id, a.user_id, a.kind, a.venue, a.login, a.server, a.status, a.is_active,
       a.risk_limits, s.ciphertext
  from public.accounts a
  left join private.account_secrets s on s.account_id = a.id
 where a.id = %(id)s

-- name: mark_account_verified
update public.accounts
   set status = 'verified', status_reason = null, verified_at = now(),
       currency = %(currency)s, leverage = %(leverage)s, permissions = %(permissions)s,
       next_verify_at = now() + make_interval(secs => %(verify_interval_s)s),
       -- the first sync of a newly verified account right away, later ones on schedule
       next_sync_at = case when status = 'verified' then next_sync_at else now() end
 where id = %(id)s

-- name: mark_account_failed
update public.accounts
   set status = 'failed', status_reason = %(reason)s
 where id = %(id)s and status in ('pending', 'failed')

-- name: mark_account_disabled
update public.accounts
   set status = 'disabled', status_reason = %(reason)s, next_sync_at = null,
       next_verify_at = null
 where id = %(id)s and status = 'verified'

-- name: mark_account_synced
update public.accounts
   set synced_at = now(), currency = %(currency)s, leverage = %(leverage)s
 where id = %(id)s

-- name: insert_balance_snapshot
insert into public.balance_snapshots
    (user_id, account_id, balance, equity, margin, free_margin, currency, leverage)
values (%(user_id)s, %(account_id)s, %(balance)s, %(equity)s, %(margin)s, %(free_margin)s,
        %(currency)s, %(leverage)s)

-- name: upsert_position
insert into public.positions
    (user_id, account_id, venue_position_id, symbol, side, volume, open_price, sl, tp,
     profit, opened_at, updated_at)
values (%(user_id)s, %(account_id)s, %(venue_position_id)s, %(symbol)s, %(side)s,
        %(volume)s, %(open_price)s, %(sl)s, %(tp)s, %(profit)s, %(opened_at)s, now())
on conflict (account_id, venue_position_id) do update
   set volume = excluded.volume, sl = excluded.sl, tp = excluded.tp,
       profit = excluded.profit, updated_at = now()

-- name: delete_closed_positions
delete from public.positions
 where account_id = %(account_id)s
   and not (venue_position_id = any(%(open_ids)s::text[]))

-- name: delete_position
delete from public.positions
 where account_id = %(account_id)s and venue_position_id = %(venue_position_id)s

-- name: last_deal_time
select max(executed_at) as last_at from public.deals where account_id = %(account_id)s

-- name: insert_deal
insert into public.deals
    (user_id, account_id, venue_deal_id, venue_order_id, venue_position_id, symbol, side,
     entry, volume, price, profit, commission, fee, comment, executed_at)
values (%(user_id)s, %(account_id)s, %(venue_deal_id)s, %(venue_order_id)s,
        %(venue_position_id)s, %(symbol)s, %(side)s, %(entry)s, %(volume)s, %(price)s,
        %(profit)s, %(commission)s, %(fee)s, %(comment)s, %(executed_at)s)
on conflict (account_id, venue_deal_id) do nothing

-- name: journal_get
select id, status, venue_order_id, retcode, fill_price, filled_volume
  from public.orders
 where user_id = %(user_id)s and client_order_id = %(client_order_id)s

-- name: journal_sent
insert into public.orders
    (user_id, account_id, job_id, client_order_id, action, symbol, side, order_type,
     volume, price, sl, tp, status)
values (%(user_id)s, %(account_id)s, %(job_id)s, %(client_order_id)s, %(action)s,
        %(symbol)s, %(side)s, %(order_type)s, %(volume)s, %(price)s, %(sl)s, %(tp)s, 'sent')
on conflict (user_id, client_order_id) do update
   set status = 'sent', retcode = null, reason = null
 where public.orders.status in ('rejected', 'sent', 'unknown')
returning id

-- name: journal_outcome
update public.orders
   set status = %(status)s, venue_order_id = coalesce(%(venue_order_id)s, venue_order_id),
       filled_volume = %(filled_volume)s, fill_price = %(fill_price)s,
       retcode = %(retcode)s, reason = %(reason)s
 where user_id = %(user_id)s and client_order_id = %(client_order_id)s

-- name: schedule_syncs
with due as (
    select a.id, a.user_id
      from public.accounts a
     where a.kind = 'mt5' and a.status = 'verified' and a.is_active
       and a.next_sync_at <= now()
     order by a.next_sync_at
     limit %(batch)s
       for update skip locked
), bumped as (
    update public.accounts a
       set next_sync_at = now() + make_interval(secs => %(interval_s)s)
      from due
     where a.id = due.id
    returning a.id, a.user_id
)
insert into public.jobs (user_id, account_id, kind, priority, max_attempts)
select b.user_id, b.id, 'sync', -10, 3
  from bumped b
 where not exists (select 1 from public.jobs j
                    where j.account_id = b.id and j.kind = 'sync'
                      and j.status in ('queued', 'running'))
returning account_id

-- name: schedule_verifications
with due as (
    select a.id, a.user_id
      from public.accounts a
     where a.kind = 'mt5' and a.status = 'verified' and a.is_active
       and a.next_verify_at <= now()
     order by a.next_verify_at
     limit %(batch)s
       for update skip locked
), bumped as (
    update public.accounts a
       set next_verify_at = now() + make_interval(secs => %(interval_s)s)
      from due
     where a.id = due.id
    returning a.id, a.user_id
)
insert into public.jobs (user_id, account_id, kind, priority, max_attempts)
select b.user_id, b.id, 'verify', -5, 3
  from bumped b
 where not exists (select 1 from public.jobs j
                    where j.account_id = b.id and j.kind = 'verify'
                      and j.status in ('queued', 'running'))
returning account_id

-- name: spread_new_schedules
-- Accounts verified without a schedule get one spread evenly over the interval: a
-- deterministic phase from the account id, so a thousand accounts never sync at once.
update public.accounts
   set next_sync_at = coalesce(next_sync_at, now() + make_interval(
           secs => %(sync_interval_s)s * (('x' || substr(md5(id::text), 1, 8))::bit(32)::bigint
                                         / 4294967296.0))),
       next_verify_at = coalesce(next_verify_at, now() + make_interval(
           secs => %(verify_interval_s)s * (('x' || substr(md5(id::text), 9, 8))::bit(32)::bigint
                                           / 4294967296.0)))
 where kind = 'mt5' and status = 'verified' and is_active
   and (next_sync_at is null or next_verify_at is null)
returning id
