-- The HTTP functions' queries. Each runs inside `as_role_async(..., "authenticated")`:
-- row-level security decides which rows exist, never a `where user_id = ...` here.
-- Except the rate-limit charge: the login role runs it, before it becomes the user.

-- name: api_charge_and_become
-- The first statement of a request: the login role charges the rate limit (a refusal is
-- SQLSTATE SW429 and aborts the transaction), then the transaction becomes the user. The
-- function in FROM runs to its end before the select list switches the role.
select set_config('role', %(role)s, true),
       set_config('request.jwt.claims', %(claims)s, true),
       set_config('request.headers', %(headers)s, true),
       set_config('switchyard.client_address', %(client_address)s, true)
  from private.charge_request(
    %(user_id)s::uuid, %(buckets)s::text[], %(limits)s::integer[], %(window_s)s
  )

-- name: api_health
select 1 as ok

-- name: api_login_role_powers
-- What the functions' login role could do beyond becoming anon or authenticated: it must
-- be nothing (not a superuser, no BYPASSRLS, a member of no other role: service_role...).
select session_user as login,
       array_remove(array[
           case when r.rolsuper then 'is a superuser' end,
           case when r.rolbypassrls then 'bypasses row-level security' end
       ], null)
       || array(select 'can become ' || g.rolname
                  from pg_auth_members m
                  join pg_roles g on g.oid = m.roleid
                 where m.member = r.oid and g.rolname not in ('anon', 'authenticated')
                 order by g.rolname) as powers
  from pg_roles r
 where r.rolname = session_user

-- name: api_listen_job_done
listen switchyard_job_done

-- name: api_listen_events
listen switchyard_events

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
select kind, venue from public.accounts where id = %(account_id)s

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
    %(account_id)s, %(kind)s, %(payload)s::jsonb, %(idempotency_key)s, %(request_hash)s,
    %(ttl_s)s::integer
  )

-- name: api_get_job
-- `overdue`: still queued, never started, past its time-to-live (see api_expire_job).
select id, account_id, kind, payload, status, attempts, max_attempts, idempotency_key,
       request_hash, result, error, created_at, started_at, finished_at, updated_at,
       expires_at, signal_id, subscription_id,
       coalesce(status = 'queued' and started_at is null and expires_at <= now(), false)
           as overdue
  from public.jobs
 where id = %(job_id)s

-- name: api_expire_job
-- The caller's queued job past its deadline ends cancelled as `expired`; false otherwise.
select private.expire_job(%(job_id)s) as expired

-- name: api_list_trades
select id, account_id, kind, payload, status, attempts, max_attempts, idempotency_key,
       request_hash, result, error, created_at, started_at, finished_at, updated_at,
       expires_at, signal_id, subscription_id,
       coalesce(status = 'queued' and started_at is null and expires_at <= now(), false)
           as overdue
  from public.jobs
 where kind in ('order', 'close', 'modify', 'cancel', 'signal')
   and (%(account_id)s::uuid is null or account_id = %(account_id)s::uuid)
   and (%(signal_id)s::uuid is null or signal_id = %(signal_id)s::uuid)
   and (%(status)s::text is null or status = %(status)s::text)
   and (%(before)s::timestamptz is null
        or created_at < %(before)s::timestamptz
        or (created_at = %(before)s::timestamptz and id < %(before_id)s::uuid))
 order by created_at desc, id desc
 limit %(limit)s

-- name: api_trade_orders
select id, client_order_id, venue_order_id, action, symbol, side, order_type, volume, price,
       sl, tp, status, filled_volume, fill_price, retcode, reason, created_at, updated_at
  from public.orders
 where job_id = %(job_id)s
 order by created_at

-- name: api_use_api_token
select token_id, user_id, scopes, allowed
  from private.use_api_token(%(token_hash)s, %(scope)s, %(method)s, %(path)s,
                             %(client_address)s, %(user_agent)s)

-- name: api_create_api_token
select id, name, scopes, created_at, expires_at
  from private.create_api_token(%(name)s, %(scopes)s, %(expires_in_days)s, %(token_hash)s)

-- name: api_list_api_tokens
select id, name, scopes, created_at, expires_at, last_used_at
  from public.api_tokens
 where revoked_at is null
 order by created_at desc, id

-- name: api_revoke_api_token
select private.revoke_api_token(%(id)s) as id

-- name: api_events_start
-- Where a stream that asks for nothing old starts: every transaction older than the oldest
-- one still running is final, and what it wrote counts as already seen. And the newest
-- pruned event ("xact-id", or null): a resumption from before it may have missed events.
select pg_snapshot_xmin(pg_current_snapshot())::text as xact_id, private.event_horizon() as horizon

-- name: api_events_after
-- The caller's events after a cursor (and up to one, when given), in commit order. `final`
-- rows are of transactions older than every running one: nothing can appear before them
-- any more. The others (committed, but an older transaction still runs) are delivered
-- later, once final; they sort last, so the final ones are a prefix.
select e.id, e.xact_id::text as xact_id, e.type, e.subject_id, e.data,
       e.xact_id < pg_snapshot_xmin(pg_current_snapshot()) as final
  from public.events e
 where (e.xact_id, e.id) > (%(xact_id)s::text::xid8, %(id)s::bigint)
   and (%(until_xact_id)s::text::xid8 is null
        or (e.xact_id, e.id) <= (%(until_xact_id)s::text::xid8, %(until_id)s::bigint))
 order by e.xact_id, e.id
 limit %(limit)s

-- name: api_events_token_live
-- Whether the API token a stream was opened with still works: revoked or expired, it ends.
select exists (
    select 1 from public.api_tokens t
     where t.id = %(id)s and t.revoked_at is null and t.expires_at > now()
) as live
-- ---------------------------------------------------------------------------------
-- signals: channels, subscriptions, the webhook
-- ---------------------------------------------------------------------------------

-- name: api_create_signal_channel
select private.create_signal_channel(%(name)s, %(public)s, %(secret_hash)s) as id

-- name: api_rotate_signal_secret
select private.rotate_signal_secret(%(channel_id)s, %(secret_hash)s) as rotated

-- name: api_signal_channels
-- The channels the caller may see (RLS): their own, the public ones, the ones they
-- subscribe to. Delivery counts come from `signals`, which only the owner can read.
select c.id, c.name, c.public, c.created_at,
       c.user_id = (select auth.uid()) as owned,
       n.deliveries, n.queued, n.skipped
  from public.signal_channels c
  left join lateral (
        select count(*)::integer as deliveries,
               coalesce(sum(s.queued), 0)::integer as queued,
               coalesce(sum(s.skipped), 0)::integer as skipped
          from public.signals s
         where s.channel_id = c.id
       ) n on true
 where %(channel_id)s::uuid is null or c.id = %(channel_id)s::uuid
 order by c.created_at, c.id

-- name: api_update_signal_channel
-- The owner's only (RLS; `name` and `public` are the columns authenticated may update).
update public.signal_channels
   set name = coalesce(%(name)s, name), public = coalesce(%(public)s, public)
 where id = %(channel_id)s
returning id

-- name: api_delete_signal_channel
delete from public.signal_channels where id = %(channel_id)s returning id

-- name: api_subscribe
select private.subscribe(
    %(channel_id)s, %(account_id)s, %(symbols)s::jsonb, %(sizing)s::jsonb, %(leverage)s,
    %(sl_pct)s, %(tp_pct)s, %(min_confidence)s, %(max_open_positions)s, %(auto_trade)s
) as id

-- name: api_subscriptions
-- The subscriptions (all, or one), each with what the latest alerts did on it (`recent`:
-- its jobs and the alerts it skipped, newest first, at most 20), in one statement.
select s.id, s.channel_id, c.name as channel_name, s.account_id, s.symbols, s.sizing,
       s.leverage, s.sl_pct, s.tp_pct, s.min_confidence, s.max_open_positions, s.auto_trade,
       s.created_at, s.updated_at, coalesce(d.recent, '[]'::jsonb) as recent
  from public.signal_subscriptions s
  left join public.signal_channels c on c.id = s.channel_id
 cross join lateral (
       select jsonb_agg(to_jsonb(latest) order by latest.created_at desc) as recent
         from (
               select * from (
                   select j.signal_id, 'queued' as status, null as reason, j.id as job_id,
                          j.created_at
                     from public.jobs j
                    where j.subscription_id = s.id and j.kind = 'signal'
                    order by j.created_at desc
                    limit 20
               ) queued
               union all
               select * from (
                   select k.signal_id, 'skipped', k.reason, null::uuid, k.created_at
                     from public.signal_skips k
                    where k.subscription_id = s.id
                    order by k.created_at desc
                    limit 20
               ) skipped
               order by created_at desc
               limit 20
         ) latest
       ) d
 where %(subscription_id)s::uuid is null or s.id = %(subscription_id)s::uuid
 order by s.created_at, s.id

-- name: api_update_subscription
-- Only the fields the request gave (`set_*`); a given null clears an optional setting.
update public.signal_subscriptions
   set symbols = case when %(set_symbols)s then %(symbols)s::jsonb else symbols end,
       sizing = case when %(set_sizing)s then %(sizing)s::jsonb else sizing end,
       leverage = case when %(set_leverage)s then %(leverage)s::integer else leverage end,
       sl_pct = case when %(set_sl_pct)s then %(sl_pct)s::numeric else sl_pct end,
       tp_pct = case when %(set_tp_pct)s then %(tp_pct)s::numeric else tp_pct end,
       min_confidence = case when %(set_min_confidence)s then %(min_confidence)s::numeric
                             else min_confidence end,
       max_open_positions = case when %(set_max_open_positions)s
                                 then %(max_open_positions)s::integer
                                 else max_open_positions end,
       auto_trade = case when %(set_auto_trade)s then %(auto_trade)s::boolean else auto_trade end
 where id = %(subscription_id)s
returning id

-- name: api_delete_subscription
delete from public.signal_subscriptions where id = %(subscription_id)s returning id

-- name: api_signal_context
-- The webhook has no user: it stays the functions' login role, and gives the audit log
-- the client address it resolved and the user agent.
select set_config('request.headers', %(headers)s, true),
       set_config('switchyard.client_address', %(client_address)s, true)

-- name: api_receive_signal
select outcome, queued, skipped, retry_after_s
  from private.receive_signal(
    %(channel_id)s, %(secret_hash)s, %(alert)s::jsonb, %(body_hash)s, %(ttl_s)s,
    %(replay_window_s)s, %(limit)s
  )

-- name: api_list_positions
-- The caller's open positions (RLS scopes them), as the worker last stored them: after
-- every trade and every sync. Newest first; the page after (`before`, `before_id`).
select p.id, p.account_id, p.venue_position_id, p.symbol, p.side, p.volume, p.open_price,
       p.sl, p.tp, p.profit, a.currency, p.opened_at, p.updated_at
  from public.positions p
  join public.accounts a on a.id = p.account_id
 where (%(account_id)s::uuid is null or p.account_id = %(account_id)s::uuid)
   and (%(before)s::timestamptz is null
        or coalesce(p.opened_at, 'epoch') < %(before)s::timestamptz
        or (coalesce(p.opened_at, 'epoch') = %(before)s::timestamptz
            and p.id < %(before_id)s::uuid))
 order by coalesce(p.opened_at, 'epoch') desc, p.id desc
 limit %(limit)s

-- name: api_list_deals
-- The venue's deals of the caller's accounts (RLS scopes them), newest first and within
-- one second in the venue's order (`seq`); `since` inclusive, `until` exclusive; the page
-- after (`before`, `before_seq`). A deal of a deleted account is kept with account_id
-- null (and no currency).
select d.id, d.account_id, d.venue_deal_id, d.venue_order_id, d.venue_position_id, d.symbol,
       d.side, d.entry, d.volume, d.price, d.profit, d.commission, d.fee, d.swap, a.currency,
       d.comment, d.executed_at, d.seq
  from public.deals d
  left join public.accounts a on a.id = d.account_id
 where (%(account_id)s::uuid is null or d.account_id = %(account_id)s::uuid)
   and (%(symbol)s::text is null or d.symbol = %(symbol)s::text)
   and (%(since)s::timestamptz is null or d.executed_at >= %(since)s::timestamptz)
   and (%(until)s::timestamptz is null or d.executed_at < %(until)s::timestamptz)
   and (%(before)s::timestamptz is null
        or d.executed_at < %(before)s::timestamptz
        or (d.executed_at = %(before)s::timestamptz and d.seq < %(before_seq)s::bigint))
 order by d.executed_at desc, d.seq desc
 limit %(limit)s

-- name: api_pnl
-- Realised P&L from the venue's own deals, grouped by the day (in `tz`), the symbol or the
-- account, and always by currency (amounts of two currencies are never added). Trade deals
-- only: a balance operation (a deposit: no side) is no P&L. `realised`: the deals' profit;
-- `fees`: their commission and fee; `swaps`: their swap; `net`: the three together.
-- `trades`: deals that closed (part of) a position; `wins`: those whose profit is > 0.
with scoped as (
    select d.*, a.currency,
           case %(group_by)s::text
               when 'day' then to_char(d.executed_at at time zone %(tz)s::text, 'YYYY-MM-DD')
               when 'symbol' then d.symbol
               when 'account' then d.account_id::text
           end as key
      from public.deals d
      left join public.accounts a on a.id = d.account_id
     where d.side is not null
       and (%(account_id)s::uuid is null or d.account_id = %(account_id)s::uuid)
       and (%(symbol)s::text is null or d.symbol = %(symbol)s::text)
       and (%(since)s::timestamptz is null or d.executed_at >= %(since)s::timestamptz)
       and (%(until)s::timestamptz is null or d.executed_at < %(until)s::timestamptz)
)
select key, currency,
       coalesce(sum(profit), 0) as realised,
       coalesce(sum(coalesce(commission, 0) + coalesce(fee, 0)), 0) as fees,
       coalesce(sum(coalesce(swap, 0)), 0) as swaps,
       coalesce(sum(coalesce(profit, 0) + coalesce(commission, 0) + coalesce(fee, 0)
                    + coalesce(swap, 0)), 0) as net,
       count(*) filter (where entry in ('out', 'inout', 'out_by')) as trades,
       count(*) filter (where entry in ('out', 'inout', 'out_by') and profit > 0) as wins,
       count(*) as deals
  from scoped
 group by key, currency
 order by key nulls last, currency nulls last

-- name: api_time_zone_known
select exists (select 1 from pg_timezone_names where name = %(tz)s) as known

-- name: api_equity
-- One account's balance snapshots over a range, oldest first. Up to `points` snapshots
-- come as they are; more are cut into `points` equal spans of time, each answered by its
-- last snapshot (real values, never an average) with the span's lowest and highest equity
-- and how many snapshots it stands for.
with s as (
    select id, balance, equity, margin, free_margin, currency, taken_at
      from public.balance_snapshots
     where account_id = %(account_id)s
       and (%(since)s::timestamptz is null or taken_at >= %(since)s::timestamptz)
       and (%(until)s::timestamptz is null or taken_at < %(until)s::timestamptz)
), span as (
    select count(*) as n, extract(epoch from min(taken_at)) as lo,
           extract(epoch from max(taken_at)) as hi
      from s
), b as (
    select s.*, span.n,
           case when span.n <= %(points)s then row_number() over (order by s.taken_at, s.id)
                else width_bucket(extract(epoch from s.taken_at), span.lo, span.hi + 0.001,
                                  %(points)s)
           end as bucket
      from s cross join span
), ranked as (
    select b.*,
           min(equity) over w as equity_min, max(equity) over w as equity_max,
           count(*) over w as snapshots,
           row_number() over (partition by bucket order by taken_at desc, id desc) as nth
      from b
    window w as (partition by bucket)
)
select taken_at, balance, equity, margin, free_margin, currency, equity_min, equity_max,
       snapshots, n > %(points)s as downsampled
  from ranked
 where nth = 1
 order by taken_at, id
