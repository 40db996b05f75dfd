-- The HTTP functions' writes: every one goes through a SECURITY DEFINER function in
-- schema `private` (not exposed by PostgREST) that checks `auth.uid()` itself, so the
-- functions' database role (`authenticated`, under RLS) can do nothing else.
--
--   private.connect_account     account (pending) + its sealed secret + a verify job
--   private.replace_credentials new sealed secret, account back to pending + a verify job
--   private.enqueue_job         a job for one of the caller's accounts (Idempotency-Key aware)
--   private.switch_account      the caller's default account + a switch job
--   private.take_rate_limit     a sliding-window request counter shared by every process
--
-- Errors the functions translate to HTTP (functions/api/sqlstate.py):
--   P0002 no_data_found   the account is not the caller's (or does not exist): 404
--   SW409 (custom)        the account's state forbids it (pending, failed, disabled, dup): 409
--   SW422 (custom)        the request is not acceptable as it is: 422
--   28000                 no authenticated user

-- ---------------------------------------------------------------------------------
-- rate-limit counters (one row per user and bucket, reused forever)
-- ---------------------------------------------------------------------------------
create table private.rate_limit_counters (
    user_id uuid not null references auth.users (id) on delete cascade,
    bucket text not null check (char_length(bucket) between 1 and 40),
    window_start timestamptz not null,
    hits integer not null check (hits >= 0),
    previous_hits integer not null default 0 check (previous_hits >= 0),
    primary key (user_id, bucket)
);
alter table private.rate_limit_counters enable row level security;
revoke all on table private.rate_limit_counters from public, anon, authenticated;
grant select, insert, update, delete on table private.rate_limit_counters to service_role;

-- ---------------------------------------------------------------------------------
-- helpers
-- ---------------------------------------------------------------------------------
create function private.require_user() returns uuid
language plpgsql stable set search_path = '' as $$
declare
    uid uuid := auth.uid();
begin
    if uid is null then
        raise exception 'no authenticated user' using errcode = '28000';
    end if;
    return uid;
end;
$$;

-- The caller's account, locked; not the caller's is exactly like missing.
create function private.own_account(p_account_id uuid) returns public.accounts
language plpgsql security definer set search_path = '' as $$
declare
    mine public.accounts;
begin
    select * into mine from public.accounts
     where id = p_account_id and user_id = private.require_user()
       for update;
    if not found then
        raise exception 'account % not found', p_account_id using errcode = 'P0002';
    end if;
    return mine;
end;
$$;

-- ---------------------------------------------------------------------------------
-- connect: the account, its secret and its verify job, atomically
-- ---------------------------------------------------------------------------------
create function private.connect_account(
    p_account_id uuid,
    p_kind text,
    p_venue text,
    p_name text,
    p_login text,
    p_server text,
    p_broker text,
    p_api_key_masked text,
    p_environment text,
    p_risk_limits jsonb,
    p_make_default boolean,
    p_ciphertext text,
    p_key_id text
) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
    uid uuid := private.require_user();
    existing public.accounts;
    job_id uuid;
    becomes_default boolean;
begin
    select * into existing from public.accounts
     where user_id = uid and venue = p_venue and login = p_login
       and server is not distinct from p_server;
    if found then
        raise exception 'this % account is already connected as account % (status %)',
            p_venue, existing.id, existing.status
            using errcode = 'SW409';
    end if;
    -- The first account a user connects is their default one at once. Asked to be the
    -- default while another one is, it takes over only once verified (the schema's
    -- promote_default_on_verify trigger): a rejected connection keeps the old default.
    becomes_default := not exists (select 1 from public.accounts where user_id = uid and is_default);
    insert into public.accounts (
        id, user_id, kind, venue, name, login, server, broker, api_key_masked,
        environment, risk_limits, is_default, default_on_verify, status
    ) values (
        p_account_id, uid, p_kind, p_venue, p_name, p_login, p_server, p_broker,
        p_api_key_masked, p_environment, coalesce(p_risk_limits, '{}'::jsonb),
        becomes_default, coalesce(p_make_default, false) and not becomes_default, 'pending'
    );
    insert into private.account_secrets (account_id, ciphertext, key_id)
    values (p_account_id, p_ciphertext, p_key_id);
    insert into public.jobs (user_id, account_id, kind, payload, max_attempts)
    values (uid, p_account_id, 'verify', '{}'::jsonb, 3)
    returning id into job_id;
    return job_id;
end;
$$;

-- ---------------------------------------------------------------------------------
-- new credentials: re-encrypted by the caller, re-verified by the worker
-- ---------------------------------------------------------------------------------
create function private.replace_credentials(
    p_account_id uuid,
    p_login text,
    p_api_key_masked text,
    p_ciphertext text,
    p_key_id text
) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
    account public.accounts := private.own_account(p_account_id);
    job_id uuid;
begin
    if (account.kind = 'exchange') <> (p_api_key_masked is not null) then
        raise exception 'these credentials do not fit a % account', account.kind
            using errcode = 'SW422';
    end if;
    if p_login is not null and p_login <> account.login and exists (
        select 1 from public.accounts
         where user_id = account.user_id and venue = account.venue and login = p_login
           and id <> account.id
    ) then
        raise exception 'this API key belongs to another of your accounts'
            using errcode = 'SW409';
    end if;
    update public.accounts
       set login = coalesce(p_login, login),
           api_key_masked = coalesce(p_api_key_masked, api_key_masked),
           status = 'pending', status_reason = null, verified_at = null
     where id = account.id;
    insert into private.account_secrets (account_id, ciphertext, key_id)
    values (account.id, p_ciphertext, p_key_id)
    on conflict (account_id) do update
       set ciphertext = excluded.ciphertext, key_id = excluded.key_id;
    insert into public.jobs (user_id, account_id, kind, payload, max_attempts)
    values (account.user_id, account.id, 'verify', '{}'::jsonb, 3)
    returning id into job_id;
    return job_id;
end;
$$;

-- ---------------------------------------------------------------------------------
-- a job for one of the caller's accounts
-- ---------------------------------------------------------------------------------
-- p_account_id null means the caller's default account. With an idempotency key the
-- same key answers the first job (whatever its body: the caller compares hashes).
create function private.enqueue_job(
    p_account_id uuid,
    p_kind text,
    p_payload jsonb,
    p_idempotency_key text,
    p_request_hash text
) returns table (job_id uuid, replayed boolean, request_hash text)
language plpgsql security definer set search_path = '' as $$
declare
    uid uuid := private.require_user();
    account public.accounts;
    previous public.jobs;
begin
    if p_kind not in ('verify', 'order', 'close', 'modify', 'cancel') then
        raise exception 'jobs of kind % cannot be requested', p_kind using errcode = 'SW422';
    end if;
    if p_idempotency_key is not null then
        select * into previous from public.jobs j
         where j.user_id = uid and j.idempotency_key = p_idempotency_key;
        if found then
            return query select previous.id, true, previous.request_hash;
            return;
        end if;
    end if;
    if p_account_id is null then
        select * into account from public.accounts a
         where a.user_id = uid and a.is_default
           for update;
        if not found then
            raise exception 'you have no active account: switch to one '
                '(POST /v1/accounts/{id}/switch) or pass account_id'
                using errcode = 'SW422';
        end if;
    else
        account := private.own_account(p_account_id);
    end if;
    if p_kind <> 'verify' then
        if not account.is_active then
            raise exception 'account % is switched off (is_active is false)', account.id
                using errcode = 'SW409';
        end if;
        if account.status <> 'verified' then
            raise exception 'account % is % and cannot trade: %', account.id, account.status,
                coalesce(account.status_reason, 'its credentials have not been verified yet')
                using errcode = 'SW409';
        end if;
    end if;
    begin
        return query
        insert into public.jobs (user_id, account_id, kind, payload, idempotency_key,
                                 request_hash, max_attempts)
        values (uid, account.id, p_kind, coalesce(p_payload, '{}'::jsonb), p_idempotency_key,
                p_request_hash, case when p_kind = 'verify' then 3 else 5 end)
        returning id, false, p_request_hash;
    exception when unique_violation then
        -- The same key raced in from another request: answer with its job.
        return query
        select j.id, true, j.request_hash from public.jobs j
         where j.user_id = uid and j.idempotency_key = p_idempotency_key;
    end;
end;
$$;

-- ---------------------------------------------------------------------------------
-- switch: the default account, and the terminal logged in ahead of the next trade
-- ---------------------------------------------------------------------------------
create function private.switch_account(p_account_id uuid) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
    account public.accounts := private.own_account(p_account_id);
    job_id uuid;
begin
    if not account.is_active then
        raise exception 'account % is switched off (is_active is false)', account.id
            using errcode = 'SW409';
    end if;
    if account.status <> 'verified' then
        raise exception 'account % is % and cannot be the active account: %', account.id,
            account.status,
            coalesce(account.status_reason, 'its credentials have not been verified yet')
            using errcode = 'SW409';
    end if;
    if not account.is_default then
        update public.accounts set is_default = false
         where user_id = account.user_id and is_default;
        update public.accounts set is_default = true where id = account.id;
    end if;
    insert into public.jobs (user_id, account_id, kind, payload, max_attempts)
    values (account.user_id, account.id, 'switch', '{}'::jsonb, 3)
    returning id into job_id;
    return job_id;
end;
$$;

-- ---------------------------------------------------------------------------------
-- rate limiting: a sliding window (this window's hits + the previous window's,
-- weighted by how much of it still overlaps), one row per user and bucket
-- ---------------------------------------------------------------------------------
-- Charges every bucket or none: allowed only when each bucket has room. When refused,
-- retry_after_s says when the tightest bucket will have room for one more request.
create function private.take_rate_limit(
    p_buckets text[], p_limits integer[], p_window_s integer
) returns table (allowed boolean, retry_after_s integer)
language plpgsql security definer set search_path = '' as $$
declare
    uid uuid := private.require_user();
    window_len interval := make_interval(secs => p_window_s);
    current_start timestamptz := to_timestamp(
        floor(extract(epoch from now()) / p_window_s) * p_window_s);
    elapsed double precision := extract(epoch from now() - current_start) / p_window_s;
    wait_s double precision := 0;
    counter private.rate_limit_counters;
    hits_now integer;
    hits_before integer;
    lim integer;
    i integer;
begin
    if coalesce(array_length(p_buckets, 1), 0) = 0
       or array_length(p_buckets, 1) <> array_length(p_limits, 1) or p_window_s < 1 then
        raise exception 'take_rate_limit: one limit per bucket, window >= 1s'
            using errcode = '22023';
    end if;
    for i in 1 .. array_length(p_buckets, 1) loop
        -- One statement: creates the counter on first use, else locks and returns it.
        insert into private.rate_limit_counters as c (user_id, bucket, window_start, hits)
        values (uid, p_buckets[i], current_start, 0)
        on conflict (user_id, bucket) do update set bucket = excluded.bucket
        returning c.* into counter;
        if counter.window_start = current_start then
            hits_now := counter.hits;
            hits_before := counter.previous_hits;
        elsif counter.window_start = current_start - window_len then
            hits_now := 0;
            hits_before := counter.hits;
        else
            hits_now := 0;
            hits_before := 0;
        end if;
        lim := p_limits[i];
        if hits_before * (1 - elapsed) + hits_now + 1 > lim then
            if hits_now + 1 > lim then
                -- Not before the next window, and then only once this one has faded enough.
                wait_s := greatest(wait_s, (1 - elapsed) * p_window_s
                    + p_window_s * greatest(0, 1 - (lim - 1)::double precision
                                                / greatest(hits_now, 1)));
            else
                wait_s := greatest(wait_s, p_window_s
                    * (1 - (lim - 1 - hits_now)::double precision / hits_before - elapsed));
            end if;
        end if;
    end loop;
    if wait_s > 0 then
        return query select false, greatest(1, ceil(wait_s)::integer);
        return;
    end if;
    for i in 1 .. array_length(p_buckets, 1) loop
        update private.rate_limit_counters c
           set previous_hits = case
                   when c.window_start = current_start then c.previous_hits
                   when c.window_start = current_start - window_len then c.hits
                   else 0 end,
               hits = case when c.window_start = current_start then c.hits + 1 else 1 end,
               window_start = current_start
         where c.user_id = uid and c.bucket = p_buckets[i];
    end loop;
    return query select true, 0;
end;
$$;

-- ---------------------------------------------------------------------------------
-- who may call what
-- ---------------------------------------------------------------------------------
revoke all on function private.require_user() from public, anon, authenticated;
revoke all on function private.own_account(uuid) from public, anon, authenticated;
revoke all on function private.connect_account(
    uuid, text, text, text, text, text, text, text, text, jsonb, boolean, text, text
) from public, anon;
revoke all on function private.replace_credentials(uuid, text, text, text, text)
    from public, anon;
revoke all on function private.enqueue_job(uuid, text, jsonb, text, text) from public, anon;
revoke all on function private.switch_account(uuid) from public, anon;
revoke all on function private.take_rate_limit(text[], integer[], integer) from public, anon;

grant execute on function private.connect_account(
    uuid, text, text, text, text, text, text, text, text, jsonb, boolean, text, text
) to authenticated;
grant execute on function private.replace_credentials(uuid, text, text, text, text)
    to authenticated;
grant execute on function private.enqueue_job(uuid, text, jsonb, text, text) to authenticated;
grant execute on function private.switch_account(uuid) to authenticated;
grant execute on function private.take_rate_limit(text[], integer[], integer) to authenticated;
