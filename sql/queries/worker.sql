-- The worker's queries: the queue, leases, the journal, the account data it syncs.

-- name: claim_job
-- The next job of the lane's venues (`jobs.venue`, copied from the account at insert).
-- `terminal`: the claiming MT5 terminal (servers it serves, affinity), or null.
select * from private.claim_job(
    %(owner)s, %(lease_s)s, %(venues)s::text[], %(prefer_account)s, %(fair_wait_s)s,
    %(terminal)s
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

-- name: cancel_job
update public.jobs
   set status = 'cancelled', error = %(error)s, finished_at = now(),
       lease_owner = null, lease_expires_at = null
 where id = %(id)s and status = 'running' and lease_owner = %(owner)s
returning id

-- name: expire_jobs
-- Queued jobs past their time-to-live end cancelled/expired (the claim does it too).
select private.expire_jobs() as expired

-- name: prune_events
-- The event log's rows older than its retention (private.event_retention), a batch a tick.
select private.prune_events(%(batch)s) as pruned

-- name: extend_job_leases
-- By id: only the jobs live lanes hold, never every job with our name on it.
update public.jobs
   set lease_expires_at = now() + make_interval(secs => %(lease_s)s)
 where id = any(%(ids)s::uuid[]) and status = 'running' and lease_owner = %(owner)s
returning id

-- name: job_status
select status, attempts, result, error from public.jobs where id = %(id)s

-- name: register_worker
insert into private.workers (id, name, pid, terminals)
values (%(id)s, %(name)s, %(pid)s, %(terminals)s)
on conflict (id) do update set heartbeat_at = now(), stopped_at = null

-- name: declare_terminal
-- A terminal of this worker, and the servers it serves, known before any lane claims: a
-- job of one of them is never failed as unserved (private.fail_unserved_jobs) while the
-- terminal's lane is still starting. No lease is taken; the holder's servers stand.
insert into private.terminals as t (address, servers)
values (%(address)s, %(servers)s)
on conflict on constraint terminals_pkey do update
   set servers = excluded.servers
 where t.lease_owner is null or t.lease_expires_at < now()

-- name: worker_heartbeat
update private.workers set heartbeat_at = now() where id = %(id)s

-- name: worker_stopped
update private.workers set stopped_at = now() where id = %(id)s

-- name: acquire_terminal
select * from private.acquire_terminal(
    %(address)s, %(owner)s, %(lease_s)s, %(servers)s::text[]
)

-- name: renew_terminals
update private.terminals
   set lease_expires_at = now() + make_interval(secs => %(lease_s)s)
 where address = any(%(addresses)s::text[]) and lease_owner = %(owner)s
   and lease_expires_at >= now()
returning address

-- name: release_terminal
update private.terminals
   set lease_owner = null, lease_expires_at = null
 where address = %(address)s and lease_owner = %(owner)s

-- name: fail_unserved_jobs
-- Queued MT5 jobs of servers that no known terminal serves end failed, with that reason.
select private.fail_unserved_jobs() as failed

-- name: ride_sync
-- The terminal is logged in to this account for other work: its sync, if the last one
-- was half an interval ago or more, is queued now and costs no login (the schedule moves
-- on by an interval). Synced less than half an interval ago (a trade's refresh stores
-- what a sync stores), no job is queued and the schedule moves on from that sync, so the
-- scheduled one does not log the terminal in again for what was just read. An account
-- never synced yet waits for its scheduled first sync.
with fresh as (
    update public.accounts a
       set next_sync_at = greatest(a.next_sync_at,
                                   a.synced_at + make_interval(secs => %(interval_s)s))
     where a.id = %(account_id)s and a.status = 'verified' and a.is_active
       and a.next_sync_at is not null
       and a.synced_at > now() - make_interval(secs => %(interval_s)s / 2)
       -- only when it moves: no row rewritten after every trade for nothing
       and a.next_sync_at < a.synced_at + make_interval(secs => %(interval_s)s)
), due as (
    update public.accounts a
       set next_sync_at = now() + make_interval(secs => %(interval_s)s)
     where a.id = %(account_id)s and a.status = 'verified' and a.is_active
       and a.next_sync_at is not null
       and a.synced_at <= now() - make_interval(secs => %(interval_s)s / 2)
       and not exists (select 1 from public.jobs j
                        where j.account_id = a.id and j.kind = 'sync'
                          and j.status in ('queued', 'running'))
    returning a.id, a.user_id
)
insert into public.jobs (user_id, account_id, kind, priority, max_attempts)
select d.user_id, d.id, 'sync', -10, 3 from due d
returning id

-- name: measure_sync_status
-- Per venue: accounts to sync, how many were synced in the last window, and the interval
-- that rate gives each account; kept in private.sync_status for operators.
insert into private.sync_status as s
    (venue, accounts, synced_in_window, window_s, configured_interval_s,
     effective_interval_s, backlog, oldest_synced_at, measured_at)
select m.venue, m.accounts, m.synced, %(window_s)s, %(interval_s)s,
       case when m.synced > 0 then %(window_s)s * m.accounts / m.synced end,
       (select count(*) from public.jobs j
         where j.status = 'queued' and j.kind = 'sync' and j.venue = m.venue)::integer,
       m.oldest, now()
  from (select a.venue, count(*)::integer as accounts,
               (count(*) filter (
                   where a.synced_at > now() - make_interval(secs => %(window_s)s)))::integer
                   as synced,
               min(a.synced_at) as oldest
          from public.accounts a
         where a.status = 'verified' and a.is_active
         group by a.venue) m
on conflict (venue) do update
   set accounts = excluded.accounts, synced_in_window = excluded.synced_in_window,
       window_s = excluded.window_s, configured_interval_s = excluded.configured_interval_s,
       effective_interval_s = excluded.effective_interval_s, backlog = excluded.backlog,
       oldest_synced_at = excluded.oldest_synced_at, measured_at = excluded.measured_at
returning venue, accounts, synced_in_window, effective_interval_s, backlog

-- name: terminal_logged_in
update private.terminals
   set logged_in_account = %(account_id)s
 where address = %(address)s and lease_owner = %(owner)s

-- name: account_for_job
select a.id, a.user_id, a.kind, a.venue, a.login, a.server, a.environment, a.status,
       a.is_active, a.risk_limits, s.ciphertext
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

-- name: store_positions
-- The account's open positions as the venue reports them (`rows`: a JSON array, numbers
-- and times as exact text), in one statement: each upserted, and every stored position
-- the venue no longer reports (closed) deleted. The delete sees the table as it was
-- before this statement, and the two touch disjoint rows (a data-modifying WITH runs
-- to completion whether or not the delete reads it).
with reported as (
    select r.venue_position_id, r.symbol, r.side, r.volume, r.open_price, r.sl, r.tp,
           r.profit, r.opened_at
      from jsonb_to_recordset(%(rows)s::jsonb) as r(
               venue_position_id text, symbol text, side text, volume numeric,
               open_price numeric, sl numeric, tp numeric, profit numeric,
               opened_at timestamptz)
), upserted as (
    insert into public.positions
        (user_id, account_id, venue_position_id, symbol, side, volume, open_price, sl, tp,
         profit, opened_at, updated_at)
    select %(user_id)s, %(account_id)s, r.venue_position_id, r.symbol, r.side, r.volume,
           r.open_price, r.sl, r.tp, r.profit, r.opened_at, now()
      from reported r
    on conflict (account_id, venue_position_id) do update
       set volume = excluded.volume, sl = excluded.sl, tp = excluded.tp,
           profit = excluded.profit, updated_at = now()
)
delete from public.positions p
 where p.account_id = %(account_id)s
   and not exists (select 1 from reported r where r.venue_position_id = p.venue_position_id)

-- name: traded_symbols
select distinct symbol from public.orders
 where account_id = %(account_id)s and symbol is not null
   and (updated_at >= %(since)s or status = 'placed')

-- name: last_deal_time
select max(executed_at) as last_at from public.deals where account_id = %(account_id)s

-- name: insert_deal
insert into public.deals
    (user_id, account_id, venue_deal_id, venue_order_id, venue_position_id, symbol, side,
     entry, volume, price, profit, commission, fee, swap, comment, executed_at)
values (%(user_id)s, %(account_id)s, %(venue_deal_id)s, %(venue_order_id)s,
        %(venue_position_id)s, %(symbol)s, %(side)s, %(entry)s, %(volume)s, %(price)s,
        %(profit)s, %(commission)s, %(fee)s, %(swap)s, %(comment)s, %(executed_at)s)
on conflict (account_id, venue_deal_id) do nothing

-- name: identical_deals
-- Of the deals a venue reported (`rows`: a JSON array of insert_deal's parameters), the
-- ids already stored with exactly that content: read again, nothing to do. One statement
-- for a window of history that is mostly known; the rest go through insert_deal.
select r->>'venue_deal_id' as venue_deal_id
  from jsonb_array_elements(%(rows)s::jsonb) r
  join public.deals d
    on d.account_id = %(account_id)s and d.venue_deal_id = r->>'venue_deal_id'
 where (d.venue_order_id, d.venue_position_id, d.symbol, d.side, d.entry, d.volume, d.price,
        d.profit, d.commission, d.fee, d.swap, d.comment, d.executed_at)
       is not distinct from
       (r->>'venue_order_id', r->>'venue_position_id', r->>'symbol', r->>'side',
        r->>'entry', (r->>'volume')::numeric, (r->>'price')::numeric,
        (r->>'profit')::numeric, (r->>'commission')::numeric, (r->>'fee')::numeric,
        (r->>'swap')::numeric, r->>'comment', (r->>'executed_at')::timestamptz)

-- name: fill_in_deal_swap
-- A deal stored before `deals.swap` existed: its swap as the venue reports it now. The
-- only change a stored deal ever gets (a column it never had a value in).
update public.deals
   set swap = %(swap)s::numeric
 where account_id = %(account_id)s and venue_deal_id = %(venue_deal_id)s
   and swap is null and %(swap)s::numeric is not null

-- name: stored_deal_if_different
-- After insert_deal inserted nothing: the stored row when the venue now reports this deal
-- id with other content (no row: the same deal read again).
select venue_order_id, venue_position_id, symbol, side, entry, volume, price, profit,
       commission, fee, swap, comment, executed_at
  from public.deals
 where account_id = %(account_id)s and venue_deal_id = %(venue_deal_id)s
   and (venue_order_id, venue_position_id, symbol, side, entry, volume, price, profit,
        commission, fee, swap, comment, executed_at)
       is distinct from
       (%(venue_order_id)s::text, %(venue_position_id)s::text, %(symbol)s::text,
        %(side)s::text, %(entry)s::text, %(volume)s::numeric, %(price)s::numeric,
        %(profit)s::numeric, %(commission)s::numeric, %(fee)s::numeric, %(swap)s::numeric,
        %(comment)s::text, %(executed_at)s::timestamptz)

-- name: audit_deal_conflict
-- Once per distinct conflict: a sync re-reads the same history window many times.
select private.write_audit(%(user_id)s, %(account_id)s, %(job_id)s, 'deal.conflict',
                           %(detail)s)
 where not exists (
       select 1 from public.audit_log
        where user_id = %(user_id)s and account_id = %(account_id)s
          and action = 'deal.conflict' and detail = %(detail)s)

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
-- Every venue's accounts: the job's venue routes it to the lane that serves it.
with due as (
    select a.id, a.user_id
      from public.accounts a
     where a.status = 'verified' and a.is_active
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
     where a.status = 'verified' and a.is_active
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
 where status = 'verified' and is_active
   and (next_sync_at is null or next_verify_at is null)
returning id

-- name: queue_signal_targets
-- A close/cancel signal's targets: one ordinary job each, with the parent's account,
-- signal, subscription and time-to-live; the idempotency key (parent + target) makes a
-- retried parent queue none twice. The ids of all of them, new or queued before.
with parent as (
    select * from public.jobs where id = %(parent)s
), wanted as (
    select p.user_id, p.account_id, p.signal_id, p.subscription_id,
           coalesce(p.expires_at - p.created_at, interval '300 seconds') as ttl,
           t.body::jsonb as payload,
           'signal-target:' || p.id || ':' || md5(t.body) as key
      from parent p
     cross join unnest(%(payloads)s::text[]) as t (body)
), inserted as (
    insert into public.jobs (user_id, account_id, kind, payload, idempotency_key,
                             max_attempts, expires_at, signal_id, subscription_id)
    select w.user_id, w.account_id, %(kind)s, w.payload, w.key, 5, now() + w.ttl,
           w.signal_id, w.subscription_id
      from wanted w
        on conflict (user_id, idempotency_key) do nothing
    returning id
)
select id from inserted
 union
select j.id from public.jobs j join wanted w
    on j.user_id = w.user_id and j.idempotency_key = w.key
