-- The HTTP functions' queries. Each runs inside `as_role_async(..., "authenticated")`:
-- row-level security decides which rows exist, never a `where user_id = ...` here.

-- name: api_take_rate_limit
select allowed, retry_after_s
  from private.take_rate_limit(%(buckets)s::text[], %(limits)s::integer[], %(window_s)s)

-- name: api_health
select 1 as ok

-- name: api_listen_job_done
listen switchyard_job_done

-- name: api_accounts
-- The caller's accounts with their last balance (RLS scopes them); one when given an id.
select a.id, a.kind, a.venue, a.name, a.login, a.server, a.broker, a.api_key_masked,
       a.environment, a.status, a.status_reason, a.is_active, a.is_default, a.risk_limits,
       a.permissions, a.currency, a.leverage, a.verified_at, a.synced_at, a.created_at,
       a.updated_at,
       b.balance, b.equity, b.margin, b.free_margin, b.currency as balance_currency,
       b.leverage as balance_leverage, b.taken_at as balance_taken_at
  from public.accounts a
  left join lateral (
        select s.balance, s.equity, s.margin, s.free_margin, s.currency, s.leverage, s.taken_at
          from public.balance_snapshots s
         where s.account_id = a.id
         order by s.taken_at desc
         limit 1
       ) b on true
 where %(account_id)s::uuid is null or a.id = %(account_id)s::uuid
 order by a.created_at, a.id

-- name: api_account_kind
select kind from public.accounts where id = %(account_id)s

-- name: api_update_account
update public.accounts
   set name = coalesce(%(name)s, name),
       risk_limits = coalesce(%(risk_limits)s::jsonb, risk_limits),
       is_active = coalesce(%(is_active)s, is_active)
 where id = %(account_id)s
returning id

-- name: api_delete_account
delete from public.accounts where id = %(account_id)s returning id

-- name: api_connect_account
select private.connect_account(
    %(account_id)s, %(kind)s, %(venue)s, %(name)s, %(login)s, %(server)s, %(broker)s,
    %(api_key_masked)s, %(environment)s, %(risk_limits)s::jsonb, %(make_default)s,
    %(ciphertext)s, %(key_id)s
) as job_id

-- name: api_replace_credentials
select private.replace_credentials(
    %(account_id)s, %(login)s, %(api_key_masked)s, %(ciphertext)s, %(key_id)s
) as job_id

-- name: api_switch_account
select private.switch_account(%(account_id)s) as job_id

-- name: api_enqueue_job
select job_id, replayed, request_hash
  from private.enqueue_job(
    %(account_id)s, %(kind)s, %(payload)s::jsonb, %(idempotency_key)s, %(request_hash)s
  )

-- name: api_get_job
select id, account_id, kind, payload, status, attempts, max_attempts, idempotency_key,
       request_hash, result, error, created_at, started_at, finished_at, updated_at
  from public.jobs
 where id = %(job_id)s

-- name: api_list_trades
select id, account_id, kind, payload, status, attempts, max_attempts, idempotency_key,
       request_hash, result, error, created_at, started_at, finished_at, updated_at
  from public.jobs
 where kind in ('order', 'close', 'modify', 'cancel')
   and (%(account_id)s::uuid is null or account_id = %(account_id)s::uuid)
   and (%(status)s::text is null or status = %(status)s::text)
   and (%(before)s::timestamptz is null or created_at < %(before)s::timestamptz)
 order by created_at desc, id desc
 limit %(limit)s

-- name: api_trade_orders
select id, client_order_id, venue_order_id, action, symbol, side, order_type, volume, price,
       sl, tp, status, filled_volume, fill_price, retcode, reason, created_at, updated_at
  from public.orders
 where job_id = %(job_id)s
 order by created_at
