-- Hardening of the functions' side of the database:
--
--   private.enqueue_job   catches only its own idempotency constraint, by name, and
--                         gives every trade job its time-to-live (`expires_at`)
--   private.expire_job    a queued trade the worker never started, past its deadline,
--                         ends `cancelled` with code `expired` when its owner reads it
--   private.write_audit   records the client address the deployment trusts, never the
--                         left-most (client-written) X-Forwarded-For entry
--
-- `enqueue_job` gains a parameter: the functions of this release call the new signature,
-- so deploy them together with this migration.

-- ---------------------------------------------------------------------------------
-- enqueue_job: a job for one of the caller's accounts
-- ---------------------------------------------------------------------------------
-- p_account_id null means the caller's default account. With an idempotency key the
-- same key answers the first job (whatever its body: the caller compares hashes).
-- p_ttl_s: a trade's time-to-live in seconds (required for trades, 1..86400; none for
-- verify): not started by `now() + p_ttl_s`, it is cancelled as `expired`, never sent.
--
-- Only a violation of `jobs_idempotency_key_per_user` means "the same key raced in";
-- any other unique violation (an audit trigger's, say) is re-raised: the insert was
-- rolled back and there is no job to answer with. The id is returned only after the
-- insert and its triggers succeeded.
drop function private.enqueue_job(uuid, text, jsonb, text, text);
create function private.enqueue_job(
    p_account_id uuid,
    p_kind text,
    p_payload jsonb,
    p_idempotency_key text,
    p_request_hash text,
    p_ttl_s integer
) returns table (job_id uuid, replayed boolean, request_hash text)
language plpgsql security definer set search_path = '' as $$
declare
    uid uuid := private.require_user();
    account public.accounts;
    previous public.jobs;
    new_id uuid;
    violated text;
begin
    if p_kind not in ('verify', 'order', 'close', 'modify', 'cancel') then
        raise exception 'jobs of kind % cannot be requested', p_kind using errcode = 'SW422';
    end if;
    if p_kind = 'verify' then
        if p_ttl_s is not null then
            raise exception 'only trades have a time-to-live' using errcode = 'SW422';
        end if;
    elsif p_ttl_s is null or p_ttl_s not between 1 and 86400 then
        raise exception 'a trade needs a time-to-live of 1 to 86400 seconds'
            using errcode = 'SW422';
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
        insert into public.jobs (user_id, account_id, kind, payload, idempotency_key,
                                 request_hash, max_attempts, expires_at)
        values (uid, account.id, p_kind, coalesce(p_payload, '{}'::jsonb), p_idempotency_key,
                p_request_hash, case when p_kind = 'verify' then 3 else 5 end,
                now() + make_interval(secs => p_ttl_s))
        returning id into new_id;
    exception when unique_violation then
        get stacked diagnostics violated = constraint_name;
        if p_idempotency_key is null or violated is distinct from 'jobs_idempotency_key_per_user'
        then
            raise;
        end if;
        -- The same key raced in from another request: answer with its job.
        return query
        select j.id, true, j.request_hash from public.jobs j
         where j.user_id = uid and j.idempotency_key = p_idempotency_key;
        return;
    end;
    return query select new_id, false, p_request_hash;
end;
$$;

-- ---------------------------------------------------------------------------------
-- expire_job: the caller's trade that no worker started within its time-to-live
-- ---------------------------------------------------------------------------------
-- Called by the functions when they read a job that is still queued past `expires_at`
-- (no worker runs at all, or none got to it): it must not go on answering "queued".
-- Only a job that was never started (`started_at is null`): a job queued again after an
-- attempt may have reached the venue and must be looked up by the worker, not
-- cancelled here. The row lock orders this against the worker's claim (SKIP LOCKED):
-- whichever comes first wins, and a claimed job is not `queued` any more.
create function private.expire_job(p_job_id uuid) returns boolean
language plpgsql security definer set search_path = '' as $$
declare
    uid uuid := private.require_user();
begin
    update public.jobs j
       set status = 'cancelled', finished_at = now(),
           error = jsonb_build_object(
               'code', 'expired',
               'message', 'not started within its time-to-live; nothing was sent to the venue')
     where j.id = p_job_id and j.user_id = uid and j.status = 'queued'
       and j.started_at is null and j.expires_at <= now();
    return found;
end;
$$;

-- ---------------------------------------------------------------------------------
-- the audit log's client address
-- ---------------------------------------------------------------------------------
-- X-Forwarded-For is appended to by every proxy: its left end is whatever the client
-- wrote. Two paths write audit rows:
--   * the switchyard functions resolve the address themselves (their own setting,
--     SWITCHYARD_TRUSTED_PROXY_HOPS) and hand it over as `switchyard.client_address`,
--     a setting PostgREST never sets;
--   * PostgREST (supabase-js on hosted Supabase) puts the request's headers in
--     `request.headers`: the address is the N-th X-Forwarded-For entry from the right,
--     N = `trusted_proxy_hops` below (the proxies in front of PostgREST that append to
--     the header); fewer entries than N, or N = 0: no address is recorded.
-- The operator changes N with SQL (as `postgres`, e.g. in the dashboard's SQL editor):
--   update private.audit_settings set trusted_proxy_hops = 2;
create table private.audit_settings (
    singleton boolean primary key default true check (singleton),
    -- 1: the right-most entry, which the platform's edge appends for the peer it saw.
    trusted_proxy_hops integer not null default 1 check (trusted_proxy_hops between 0 and 16),
    updated_at timestamptz not null default now()
);
insert into private.audit_settings default values;
create trigger audit_settings_touch before update on private.audit_settings
    for each row execute function private.touch_updated_at();
alter table private.audit_settings enable row level security;
revoke all on table private.audit_settings from public, anon, authenticated, service_role;

create or replace function private.write_audit(
    p_user_id uuid, p_account_id uuid, p_job_id uuid, p_action text, p_detail jsonb
) returns void
language plpgsql security definer set search_path = '' as $$
declare
    headers jsonb := nullif(current_setting('request.headers', true), '')::jsonb;
    vouched text := nullif(current_setting('switchyard.client_address', true), '');
    hops integer;
    entries text[];
    candidate text;
    client_ip inet;
begin
    if vouched is not null then
        candidate := vouched;
    else
        select s.trusted_proxy_hops into hops from private.audit_settings s;
        hops := coalesce(hops, 1);
        select array_agg(trim(x.entry) order by x.n) into entries
          from unnest(string_to_array(headers ->> 'x-forwarded-for', ','))
               with ordinality as x(entry, n)
         where trim(x.entry) <> '';
        if hops > 0 and coalesce(array_length(entries, 1), 0) >= hops then
            candidate := entries[array_length(entries, 1) - hops + 1];
        end if;
    end if;
    begin
        client_ip := nullif(candidate, '')::inet;
        if client_ip <> host(client_ip)::inet then
            client_ip := null;  -- a network (1.2.3.0/24), not an address
        end if;
    exception when invalid_text_representation then
        client_ip := null;  -- a forged or garbled entry is not an address
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

-- ---------------------------------------------------------------------------------
-- who may call what
-- ---------------------------------------------------------------------------------
revoke all on function private.enqueue_job(uuid, text, jsonb, text, text, integer)
    from public, anon;
revoke all on function private.expire_job(uuid) from public, anon;
grant execute on function private.enqueue_job(uuid, text, jsonb, text, text, integer)
    to authenticated;
grant execute on function private.expire_job(uuid) to authenticated;
-- write_audit keeps its privileges (create or replace): callable by no API role.
