-- The live event stream's log: `public.events`, one row per change of a user's job, trade
-- journal row (order) or account, written by triggers so that every writer is covered
-- (the functions, the worker, the Supabase API, an operator's SQL).
--
--   * Durable and per user: `GET /v1/events` replays from it after `Last-Event-ID`, and
--     behind a transaction pooler (no LISTEN) it is what the stream polls.
--   * Ordered by commit, not by insert: identity values are handed out at insert time, so
--     a transaction that inserted id 9 may commit after one that inserted id 10. Each row
--     carries its transaction id (`xact_id`, xid8), and readers take only rows of
--     transactions older than every transaction still running
--     (`xact_id < pg_snapshot_xmin(pg_current_snapshot())`), in (xact_id, id) order. Such
--     rows are final: no row can appear before them later. An event id is "xact_id-id".
--     Writers take no lock for it (a per-user counter row would serialize and deadlock
--     the worker's and the functions' transactions of the same user).
--   * RLS: a user reads only their own rows; nobody of the API writes them.
--   * Every change sends NOTIFY switchyard_events with the owner's user id (only the id:
--     any database role may LISTEN) to wake the one listener of each function process.
--   * Retention: rows older than `private.event_retention.keep` (default 24 hours) are
--     pruned by the worker's scheduler (`private.prune_events`), which records the newest
--     (xact_id, id) it deleted: a client resuming from before that mark is told to reload
--     (`event: reset`) instead of being sent a log with a hole in it.
--
-- And the tables a hosted frontend watches through Supabase Realtime stay in the
-- `supabase_realtime` publication: created here where it is missing (plain Postgres, the
-- embedded one), each table added only when it is not a member yet.

-- ---------------------------------------------------------------------------------
-- the log
-- ---------------------------------------------------------------------------------
create table public.events (
    id bigint generated always as identity primary key,
    user_id uuid not null references auth.users (id) on delete cascade,
    xact_id xid8 not null default pg_current_xact_id(),
    type text not null check (type in ('job', 'order', 'account')),
    subject_id uuid not null,
    data jsonb not null check (jsonb_typeof(data) = 'object'),
    created_at timestamptz not null default now()
);
create index events_user_cursor_idx on public.events (user_id, xact_id, id);
create index events_created_at_idx on public.events (created_at);

alter table public.events enable row level security;
revoke all on table public.events from public, anon, authenticated;
revoke all on sequence public.events_id_seq from public, anon, authenticated;
grant select, insert, update, delete on table public.events to service_role;
grant select on table public.events to authenticated;
create policy events_select_own on public.events for select to authenticated
    using ((select auth.uid()) = user_id);

-- ---------------------------------------------------------------------------------
-- retention
-- ---------------------------------------------------------------------------------
-- Change it as `postgres`: update private.event_retention set keep = interval '3 days';
create table private.event_retention (
    singleton boolean primary key default true check (singleton),
    keep interval not null default interval '24 hours' check (keep >= interval '1 hour'),
    -- The newest event pruned so far: a cursor before it may have missed events.
    pruned_xact_id xid8,
    pruned_id bigint,
    pruned_at timestamptz,
    constraint event_retention_mark_complete check ((pruned_xact_id is null) = (pruned_id is null))
);
insert into private.event_retention default values;
alter table private.event_retention enable row level security;
revoke all on table private.event_retention from public, anon, authenticated, service_role;

-- Deletes up to p_batch events older than the retention, never waiting for a lock
-- (SKIP LOCKED); how many. Called by the worker's scheduler on every tick.
create function private.prune_events(p_batch integer default 5000) returns integer
language plpgsql security definer set search_path = '' as $$
declare
    cutoff timestamptz;
    deleted integer;
    newest_xact xid8;
    newest_id bigint;
begin
    if p_batch is null or p_batch not between 1 and 100000 then
        raise exception 'prune_events: the batch must be 1 to 100000 rows' using errcode = '22023';
    end if;
    select now() - r.keep into cutoff from private.event_retention r;
    with doomed as (
        select e.id from public.events e
         where e.created_at < cutoff
         order by e.created_at
         limit p_batch
           for update skip locked
    ), gone as (
        delete from public.events e using doomed d where e.id = d.id
        returning e.xact_id, e.id
    ), newest as (
        select g.xact_id, g.id from gone g order by g.xact_id desc, g.id desc limit 1
    )
    select (select count(*) from gone), n.xact_id, n.id
      into deleted, newest_xact, newest_id
      from (select 1) one left join newest n on true;
    if newest_xact is not null then
        update private.event_retention r
           set pruned_xact_id = newest_xact, pruned_id = newest_id, pruned_at = now()
         where r.pruned_xact_id is null
            or (r.pruned_xact_id, r.pruned_id) < (newest_xact, newest_id);
    end if;
    return deleted;
end;
$$;

-- The newest pruned event, "xact_id-id" (null: nothing pruned yet): the stream compares a
-- client's Last-Event-ID with it. Carries no user's data.
create function private.event_horizon() returns text
language sql stable security definer set search_path = '' as $$
    select r.pruned_xact_id::text || '-' || r.pruned_id::text from private.event_retention r;
$$;

-- ---------------------------------------------------------------------------------
-- writing events: one function, three triggers
-- ---------------------------------------------------------------------------------
create function private.record_event(
    p_user_id uuid, p_type text, p_subject_id uuid, p_data jsonb
) returns void
language plpgsql security definer set search_path = '' as $$
begin
    -- A user being deleted takes their events with them (cascade): nothing to tell them.
    if not exists (select 1 from auth.users u where u.id = p_user_id) then
        return;
    end if;
    insert into public.events (user_id, type, subject_id, data)
    values (p_user_id, p_type, p_subject_id, p_data);
    perform pg_notify('switchyard_events', p_user_id::text);
end;
$$;

-- What a job event says: never the idempotency key, the request hash or the lease; the
-- request and its result only for trades (what /v1/trades shows).
create function private.job_event() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
    trade boolean := new.kind in ('order', 'close', 'modify', 'cancel');
begin
    perform private.record_event(new.user_id, 'job', new.id, jsonb_build_object(
        'id', new.id, 'kind', new.kind, 'status', new.status, 'account_id', new.account_id,
        'payload', case when trade then new.payload end,
        'result', case when trade then new.result end,
        'error', new.error, 'attempts', new.attempts,
        'created_at', new.created_at, 'started_at', new.started_at,
        'finished_at', new.finished_at, 'expires_at', new.expires_at,
        'updated_at', new.updated_at));
    return null;
end;
$$;
create trigger jobs_event_insert after insert on public.jobs
    for each row execute function private.job_event();
-- Not on lease renewals, nor when a deleted account's jobs lose their account_id.
create trigger jobs_event_update after update on public.jobs
    for each row
    when ((old.status, old.result, old.error, old.attempts)
          is distinct from (new.status, new.result, new.error, new.attempts))
    execute function private.job_event();

create function private.order_event() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    perform private.record_event(new.user_id, 'order', new.id, jsonb_build_object(
        'id', new.id, 'job_id', new.job_id, 'account_id', new.account_id,
        'client_order_id', new.client_order_id, 'venue_order_id', new.venue_order_id,
        'action', new.action, 'symbol', new.symbol, 'side', new.side,
        'order_type', new.order_type, 'volume', new.volume, 'price', new.price,
        'sl', new.sl, 'tp', new.tp, 'status', new.status,
        'filled_volume', new.filled_volume, 'fill_price', new.fill_price,
        'retcode', new.retcode, 'reason', new.reason,
        'created_at', new.created_at, 'updated_at', new.updated_at));
    return null;
end;
$$;
create trigger orders_event_insert after insert on public.orders
    for each row execute function private.order_event();
create trigger orders_event_update after update on public.orders
    for each row
    when ((to_jsonb(old) - 'updated_at' - 'account_id' - 'job_id')
          is distinct from (to_jsonb(new) - 'updated_at' - 'account_id' - 'job_id'))
    execute function private.order_event();

-- An account as its owner sees it (GET /v1/accounts): the exchange key's fingerprint
-- (`login` of an exchange account) is not shown, and neither are the scheduler's times.
create function private.account_event_data(a public.accounts) returns jsonb
language sql immutable set search_path = '' as $$
    select jsonb_build_object(
        'id', a.id, 'kind', a.kind, 'venue', a.venue, 'name', a.name,
        'login', case when a.kind = 'mt5' then a.login end,
        'server', a.server, 'broker', a.broker, 'api_key_masked', a.api_key_masked,
        'environment', a.environment, 'status', a.status, 'status_reason', a.status_reason,
        'is_active', a.is_active, 'is_default', a.is_default, 'risk_limits', a.risk_limits,
        'permissions', a.permissions, 'currency', a.currency, 'leverage', a.leverage,
        'verified_at', a.verified_at, 'synced_at', a.synced_at,
        'created_at', a.created_at, 'updated_at', a.updated_at);
$$;

create function private.account_event() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
    data jsonb;
begin
    if tg_op = 'DELETE' then
        perform private.record_event(old.user_id, 'account', old.id,
            jsonb_build_object('id', old.id, 'deleted', true));
        return null;
    end if;
    data := private.account_event_data(new);
    if tg_op = 'UPDATE'
       and (data - 'updated_at') = (private.account_event_data(old) - 'updated_at') then
        return null;  -- only the scheduler's bookkeeping changed
    end if;
    perform private.record_event(new.user_id, 'account', new.id, data);
    return null;
end;
$$;
create trigger accounts_event after insert or update or delete on public.accounts
    for each row execute function private.account_event();

-- ---------------------------------------------------------------------------------
-- who may call what
-- ---------------------------------------------------------------------------------
revoke all on function private.prune_events(integer) from public, anon, authenticated;
revoke all on function private.event_horizon() from public, anon, authenticated;
revoke all on function private.record_event(uuid, text, uuid, jsonb) from public, anon, authenticated;
revoke all on function private.job_event() from public, anon, authenticated;
revoke all on function private.order_event() from public, anon, authenticated;
revoke all on function private.account_event_data(public.accounts)
    from public, anon, authenticated;
revoke all on function private.account_event() from public, anon, authenticated;
grant execute on function private.prune_events(integer) to service_role;
grant execute on function private.event_horizon() to authenticated;

-- ---------------------------------------------------------------------------------
-- Supabase Realtime: the watched tables are members of supabase_realtime
-- ---------------------------------------------------------------------------------
-- Hosted Supabase (and `supabase start`) has the publication: only the membership is
-- added, table by table, and a table already in it is left alone, so this runs anywhere
-- and again. Plain Postgres gets the publication too (without logical replication it
-- publishes nothing, but a Realtime server pointed at this database finds it).
do $$
declare
    watched text;
begin
    if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
        create publication supabase_realtime;
    end if;
    foreach watched in array array['accounts', 'jobs', 'orders', 'positions', 'balance_snapshots']
    loop
        if not exists (
            select 1 from pg_publication_tables
             where pubname = 'supabase_realtime' and schemaname = 'public'
               and tablename = watched
        ) then
            execute format('alter publication supabase_realtime add table public.%I', watched);
        end if;
    end loop;
end;
$$;
