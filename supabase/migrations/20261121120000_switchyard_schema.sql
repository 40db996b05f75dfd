-- switchyard: accounts, encrypted credentials, the job queue, the trade journal,
-- positions, balance snapshots and the audit log.
--
-- Deployable unchanged to a hosted Supabase project (`supabase db push`). On plain
-- Postgres, `switchyard db migrate` first applies sql/compat/ so that the roles
-- (anon, authenticated, service_role, authenticator) and auth.uid() exist.
--
-- Authorization model
--   * Every table in `public` has RLS; the owner is `user_id`, policies use the fast
--     form `(select auth.uid()) = user_id` and every user_id column is indexed.
--   * `anon` gets nothing. `authenticated` may read its own rows, rename/re-limit/
--     enable/disable and delete its own accounts. Every other write (connecting an
--     account, storing a secret, queueing a job) goes through SECURITY DEFINER
--     functions in the `private` schema, which the Supabase API does not expose.
--   * Credentials live in `private.account_secrets`: no privilege at all for anon or
--     authenticated, not even on their own rows. Only the service role (the worker)
--     reads them, and they are Fernet ciphertext bound to their account row.

create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to authenticated, service_role;

-- ---------------------------------------------------------------------------------
-- accounts
-- ---------------------------------------------------------------------------------
create table public.accounts (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
    kind text not null check (kind in ('mt5', 'exchange')),
    venue text not null check (venue in ('mt5', 'binance', 'bybit', 'okx')),
    name text not null check (char_length(name) between 1 and 100),
    -- MT5: the login number. Exchange: a sha256 fingerprint of the API key (the key
    -- itself is never stored in clear; api_key_masked is what people see).
    login text not null check (char_length(login) between 1 and 100),
    server text check (char_length(server) between 1 and 100),
    broker text check (char_length(broker) between 1 and 100),
    api_key_masked text check (char_length(api_key_masked) between 1 and 20),
    environment text not null check (environment in ('demo', 'live', 'testnet')),
    status text not null default 'pending'
        check (status in ('pending', 'verified', 'failed', 'disabled')),
    status_reason text check (char_length(status_reason) <= 500),
    -- The user's switch: a disabled account is neither traded nor synced.
    is_active boolean not null default true,
    -- The account trades go to when no account_id is given ("switch" sets it).
    is_default boolean not null default false,
    -- Connected with make_default while another account is the default: becomes the
    -- default once verified, so a rejected connection never costs the user theirs.
    default_on_verify boolean not null default false,
    risk_limits jsonb not null default '{}'::jsonb check (jsonb_typeof(risk_limits) = 'object'),
    permissions jsonb not null default '{}'::jsonb check (jsonb_typeof(permissions) = 'object'),
    currency text,
    leverage integer,
    verified_at timestamptz,
    synced_at timestamptz,
    next_sync_at timestamptz,
    next_verify_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint accounts_id_user_key unique (id, user_id),
    constraint accounts_kind_matches_venue check (
        (kind = 'mt5' and venue = 'mt5' and server is not null
            and environment in ('demo', 'live') and api_key_masked is null)
        or (kind = 'exchange' and venue <> 'mt5' and server is null
            and environment in ('testnet', 'live') and api_key_masked is not null)
    ),
    constraint accounts_mt5_login_is_numeric check (kind <> 'mt5' or login ~ '^[0-9]{1,20}$')
);
create unique index accounts_user_venue_login_key
    on public.accounts (user_id, venue, login, server) nulls not distinct;
create unique index accounts_one_default_per_user
    on public.accounts (user_id) where is_default;
create index accounts_user_id_idx on public.accounts (user_id);
create index accounts_next_sync_idx on public.accounts (next_sync_at)
    where status = 'verified' and is_active;

-- ---------------------------------------------------------------------------------
-- encrypted credentials (not exposed, not readable by anon/authenticated)
-- ---------------------------------------------------------------------------------
create table private.account_secrets (
    account_id uuid primary key references public.accounts (id) on delete cascade,
    -- Fernet token whose key is derived from the ring key and the account id.
    ciphertext text not null,
    -- Which ring key encrypted it (a short fingerprint, never the key).
    key_id text not null,
    updated_at timestamptz not null default now()
);
create index account_secrets_key_id_idx on private.account_secrets (key_id);
alter table private.account_secrets enable row level security;
revoke all on table private.account_secrets from public, anon, authenticated;
grant select, insert, update, delete on table private.account_secrets to service_role;

-- ---------------------------------------------------------------------------------
-- jobs: the work queue the worker claims (FOR UPDATE SKIP LOCKED)
-- ---------------------------------------------------------------------------------
create table public.jobs (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    account_id uuid,
    kind text not null
        check (kind in ('verify', 'switch', 'order', 'close', 'modify', 'cancel', 'sync')),
    payload jsonb not null default '{}'::jsonb check (jsonb_typeof(payload) = 'object'),
    status text not null default 'queued'
        check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority smallint not null default 0,
    attempts integer not null default 0 check (attempts >= 0),
    max_attempts integer not null default 5 check (max_attempts >= 1),
    run_after timestamptz not null default now(),
    lease_owner text,
    lease_expires_at timestamptz,
    idempotency_key text check (char_length(idempotency_key) between 1 and 255),
    request_hash text,
    result jsonb,
    error jsonb,
    created_at timestamptz not null default now(),
    started_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz not null default now(),
    constraint jobs_account_fkey foreign key (account_id, user_id)
        references public.accounts (id, user_id) on delete set null (account_id),
    constraint jobs_idempotency_key_per_user unique (user_id, idempotency_key),
    constraint jobs_running_has_lease check (
        status <> 'running' or (lease_owner is not null and lease_expires_at is not null)
    ),
    constraint jobs_finished_is_terminal check (
        (status in ('succeeded', 'failed', 'cancelled')) = (finished_at is not null)
    ),
    constraint jobs_failed_has_reason check (status <> 'failed' or error is not null)
);
create index jobs_user_id_idx on public.jobs (user_id, created_at desc);
create index jobs_account_id_idx on public.jobs (account_id);
create index jobs_queued_idx on public.jobs (run_after, priority desc) where status = 'queued';
create index jobs_lease_idx on public.jobs (lease_expires_at) where status = 'running';
-- The schema, not a query, guarantees that one account never has two running jobs.
create unique index jobs_one_running_per_account on public.jobs (account_id)
    where status = 'running';

-- ---------------------------------------------------------------------------------
-- orders: the trade journal (one row per order the worker sent or tried to send)
-- ---------------------------------------------------------------------------------
create table public.orders (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    account_id uuid,
    job_id uuid references public.jobs (id) on delete set null,
    -- Ours, derived from the job and sent to the venue so a resend can be detected.
    client_order_id text not null,
    venue_order_id text,
    action text not null check (action in ('open', 'close', 'modify', 'cancel')),
    symbol text not null,
    side text check (side in ('buy', 'sell')),
    order_type text check (order_type in ('market', 'limit', 'stop')),
    volume numeric check (volume > 0),
    price numeric,
    sl numeric,
    tp numeric,
    status text not null check (status in ('sent', 'filled', 'placed', 'rejected', 'unknown')),
    filled_volume numeric,
    fill_price numeric,
    retcode integer,
    reason text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint orders_account_fkey foreign key (account_id, user_id)
        references public.accounts (id, user_id) on delete set null (account_id),
    constraint orders_client_order_id_key unique (user_id, client_order_id)
);
create index orders_user_id_idx on public.orders (user_id, created_at desc);
create index orders_account_id_idx on public.orders (account_id);
create index orders_job_id_idx on public.orders (job_id);

-- ---------------------------------------------------------------------------------
-- positions: what is open at the venue, as of the last sync or trade
-- ---------------------------------------------------------------------------------
create table public.positions (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    account_id uuid not null,
    venue_position_id text not null,
    symbol text not null,
    side text not null check (side in ('buy', 'sell')),
    volume numeric not null check (volume > 0),
    open_price numeric not null,
    sl numeric,
    tp numeric,
    profit numeric,
    opened_at timestamptz,
    updated_at timestamptz not null default now(),
    constraint positions_account_fkey foreign key (account_id, user_id)
        references public.accounts (id, user_id) on delete cascade,
    constraint positions_venue_key unique (account_id, venue_position_id)
);
create index positions_user_id_idx on public.positions (user_id);

-- ---------------------------------------------------------------------------------
-- deals: executed trade history pulled from the venue
-- ---------------------------------------------------------------------------------
create table public.deals (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    account_id uuid,
    venue_deal_id text not null,
    venue_order_id text,
    venue_position_id text,
    symbol text not null,
    side text check (side in ('buy', 'sell')),
    entry text check (entry in ('in', 'out', 'inout', 'out_by')),
    volume numeric not null,
    price numeric not null,
    profit numeric,
    commission numeric,
    fee numeric,
    comment text,
    executed_at timestamptz not null,
    created_at timestamptz not null default now(),
    constraint deals_account_fkey foreign key (account_id, user_id)
        references public.accounts (id, user_id) on delete set null (account_id),
    constraint deals_venue_key unique (account_id, venue_deal_id)
);
create index deals_user_id_idx on public.deals (user_id, executed_at desc);

-- ---------------------------------------------------------------------------------
-- balance snapshots
-- ---------------------------------------------------------------------------------
create table public.balance_snapshots (
    id bigint generated always as identity primary key,
    user_id uuid not null references auth.users (id) on delete cascade,
    account_id uuid not null,
    balance numeric not null,
    equity numeric,
    margin numeric,
    free_margin numeric,
    currency text not null,
    leverage integer,
    taken_at timestamptz not null default now(),
    constraint balance_snapshots_account_fkey foreign key (account_id, user_id)
        references public.accounts (id, user_id) on delete cascade
);
create index balance_snapshots_account_idx on public.balance_snapshots (account_id, taken_at desc);
create index balance_snapshots_user_id_idx on public.balance_snapshots (user_id);

-- ---------------------------------------------------------------------------------
-- audit log: written only by triggers and SECURITY DEFINER functions
-- ---------------------------------------------------------------------------------
create table public.audit_log (
    id bigint generated always as identity primary key,
    user_id uuid not null references auth.users (id) on delete cascade,
    account_id uuid,
    job_id uuid,
    action text not null,
    detail jsonb not null default '{}'::jsonb,
    actor text not null,
    ip inet,
    user_agent text,
    created_at timestamptz not null default now()
);
create index audit_log_user_id_idx on public.audit_log (user_id, created_at desc);

-- ---------------------------------------------------------------------------------
-- helpers and triggers
-- ---------------------------------------------------------------------------------
create function private.touch_updated_at() returns trigger
language plpgsql set search_path = '' as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

create trigger accounts_touch before update on public.accounts
    for each row execute function private.touch_updated_at();
create trigger jobs_touch before update on public.jobs
    for each row execute function private.touch_updated_at();
create trigger orders_touch before update on public.orders
    for each row execute function private.touch_updated_at();
create trigger account_secrets_touch before update on private.account_secrets
    for each row execute function private.touch_updated_at();

-- Who did it: the authenticated user (through the functions or the Supabase API) or
-- the worker/service. IP and user agent come from the request headers that PostgREST
-- and the switchyard functions put in `request.headers`.
create function private.write_audit(
    p_user_id uuid, p_account_id uuid, p_job_id uuid, p_action text, p_detail jsonb
) returns void
language plpgsql security definer set search_path = '' as $$
declare
    headers jsonb := nullif(current_setting('request.headers', true), '')::jsonb;
    forwarded text := split_part(coalesce(headers ->> 'x-forwarded-for', ''), ',', 1);
    client_ip inet;
begin
    begin
        client_ip := nullif(trim(forwarded), '')::inet;
    exception when invalid_text_representation then
        client_ip := null;  -- a forged or garbled header is not an address
    end;
    insert into public.audit_log (user_id, account_id, job_id, action, detail, actor, ip, user_agent)
    values (
        p_user_id, p_account_id, p_job_id, p_action, coalesce(p_detail, '{}'::jsonb),
        coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role',
                 current_user::text),
        client_ip,
        left(headers ->> 'user-agent', 500)
    );
end;
$$;

create function private.audit_account_change() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    if tg_op = 'INSERT' then
        perform private.write_audit(new.user_id, new.id, null, 'account.created',
            jsonb_build_object('venue', new.venue, 'login', new.login, 'name', new.name));
        return new;
    elsif tg_op = 'DELETE' then
        perform private.write_audit(old.user_id, old.id, null, 'account.deleted',
            jsonb_build_object('venue', old.venue, 'login', old.login, 'name', old.name));
        return old;
    end if;
    if new.status is distinct from old.status then
        perform private.write_audit(new.user_id, new.id, null,
            case new.status
                when 'verified' then 'account.verified'
                when 'failed' then 'account.failed'
                when 'disabled' then 'account.disabled'
                else 'account.pending'
            end,
            jsonb_build_object('from', old.status, 'to', new.status, 'reason', new.status_reason));
    end if;
    if new.is_default and not old.is_default then
        perform private.write_audit(new.user_id, new.id, null, 'account.switched', '{}'::jsonb);
    end if;
    if (new.name, new.risk_limits, new.is_active) is distinct from
       (old.name, old.risk_limits, old.is_active) then
        perform private.write_audit(new.user_id, new.id, null, 'account.updated',
            jsonb_build_object('name', new.name, 'risk_limits', new.risk_limits,
                               'is_active', new.is_active));
    end if;
    return new;
end;
$$;
-- A verified account that was connected with make_default takes over the default.
create function private.promote_default_on_verify() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    if new.default_on_verify and new.status = 'verified' then
        update public.accounts set is_default = false
         where user_id = new.user_id and id <> new.id and is_default;
        new.is_default := true;
        new.default_on_verify := false;
    elsif new.status in ('failed', 'disabled') then
        new.default_on_verify := false;
    end if;
    return new;
end;
$$;
create trigger accounts_promote_default before update of status on public.accounts
    for each row execute function private.promote_default_on_verify();

create trigger accounts_audit after insert or update or delete on public.accounts
    for each row execute function private.audit_account_change();

create function private.audit_secret_change() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
    owner uuid;
begin
    select user_id into owner from public.accounts where id = new.account_id;
    -- A ring rotation re-encrypts without changing credentials: not a user action.
    if tg_op = 'UPDATE' and current_setting('switchyard.rotation', true) = 'on' then
        return new;
    end if;
    perform private.write_audit(owner, new.account_id, null,
        case tg_op when 'INSERT' then 'credentials.created' else 'credentials.updated' end,
        jsonb_build_object('key_id', new.key_id));
    return new;
end;
$$;
create trigger account_secrets_audit after insert or update on private.account_secrets
    for each row execute function private.audit_secret_change();

-- Deleting an account (through the functions or the Supabase API) cancels its queued
-- work: a trade nobody can attribute to a live account must never run later.
create function private.cancel_jobs_of_deleted_account() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    update public.jobs
       set status = 'cancelled', finished_at = now(),
           error = jsonb_build_object('code', 'account_deleted',
                                      'message', 'The account was deleted before this job ran.')
     where account_id = old.id and status = 'queued';
    return old;
end;
$$;
create trigger accounts_cancel_jobs before delete on public.accounts
    for each row execute function private.cancel_jobs_of_deleted_account();

create function private.audit_job_created() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    if new.kind in ('order', 'close', 'modify', 'cancel') then
        perform private.write_audit(new.user_id, new.account_id, new.id, 'trade.requested',
            jsonb_build_object('kind', new.kind, 'payload', new.payload));
    end if;
    return new;
end;
$$;
create trigger jobs_audit after insert on public.jobs
    for each row execute function private.audit_job_created();

-- Wake the worker when work arrives and the functions when a job finishes.
create function private.notify_job() returns trigger
language plpgsql set search_path = '' as $$
begin
    if tg_op = 'INSERT' or new.status is distinct from old.status then
        if new.status = 'queued' then
            perform pg_notify('switchyard_jobs', new.id::text);
        elsif new.status in ('succeeded', 'failed', 'cancelled') then
            perform pg_notify('switchyard_job_done', new.id::text);
        end if;
    end if;
    return null;
end;
$$;
create trigger jobs_notify after insert or update of status on public.jobs
    for each row execute function private.notify_job();

-- ---------------------------------------------------------------------------------
-- RLS and grants
-- ---------------------------------------------------------------------------------
alter table public.accounts enable row level security;
alter table public.jobs enable row level security;
alter table public.orders enable row level security;
alter table public.positions enable row level security;
alter table public.deals enable row level security;
alter table public.balance_snapshots enable row level security;
alter table public.audit_log enable row level security;

-- Supabase's default privileges grant everything on new public tables to anon and
-- authenticated; take it all back and grant only what the model above allows.
revoke all on table public.accounts, public.jobs, public.orders, public.positions,
    public.deals, public.balance_snapshots, public.audit_log from anon, authenticated, public;
grant select, insert, update, delete on table public.accounts, public.jobs, public.orders,
    public.positions, public.deals, public.balance_snapshots, public.audit_log to service_role;
grant select on table public.accounts, public.jobs, public.orders, public.positions,
    public.deals, public.balance_snapshots, public.audit_log to authenticated;
grant update (name, risk_limits, is_active) on table public.accounts to authenticated;
grant delete on table public.accounts to authenticated;

create policy accounts_select_own on public.accounts for select to authenticated
    using ((select auth.uid()) = user_id);
create policy accounts_update_own on public.accounts for update to authenticated
    using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy accounts_delete_own on public.accounts for delete to authenticated
    using ((select auth.uid()) = user_id);
create policy jobs_select_own on public.jobs for select to authenticated
    using ((select auth.uid()) = user_id);
create policy orders_select_own on public.orders for select to authenticated
    using ((select auth.uid()) = user_id);
create policy positions_select_own on public.positions for select to authenticated
    using ((select auth.uid()) = user_id);
create policy deals_select_own on public.deals for select to authenticated
    using ((select auth.uid()) = user_id);
create policy balance_snapshots_select_own on public.balance_snapshots for select
    to authenticated using ((select auth.uid()) = user_id);
create policy audit_log_select_own on public.audit_log for select to authenticated
    using ((select auth.uid()) = user_id);

-- SECURITY DEFINER helpers are callable only by who needs them.
revoke all on all functions in schema private from public, anon, authenticated;
grant execute on function private.touch_updated_at() to service_role;

-- Tables a frontend watches, when Realtime is there (hosted Supabase, supabase start).
do $$
begin
    if exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
        alter publication supabase_realtime add table
            public.accounts, public.jobs, public.orders, public.positions,
            public.balance_snapshots;
    end if;
end;
$$;
