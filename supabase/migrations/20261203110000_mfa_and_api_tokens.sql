-- A second factor for what hands over or removes broker access, and personal API tokens.
--
--   * MFA, enforced in the database: a user with a verified factor (auth.mfa_factors, as
--     Supabase Auth keeps it) must present an aal2 session (`auth.jwt()->>'aal'`) to store
--     broker credentials (connect an account, replace its credentials), to delete an
--     account, or to create an API token. The check sits in triggers on the tables and in
--     the private function, so PostgREST callers (supabase-js) meet the same wall as the
--     switchyard functions. Refused: SQLSTATE SWMFA (the functions answer 403).
--   * public.api_tokens: personal tokens for scripts, stored as a SHA-256 hash of the token
--     (a 256-bit random string: no password hashing needed); readable by their owner
--     without the hash. Created and revoked through private functions; each use is looked
--     up (and audited) by `private.use_api_token`, which only the functions' login role may
--     call, so a revoked or expired token is refused by every function process at once.
--   * A token's scopes are checked again by triggers on what its requests write (jobs,
--     accounts), from the claims the functions set: SQLSTATE SW403.
--   * The audit log names the API token a write was made with (actor `api_token`,
--     `detail.api_token_id`).
--
-- Deployable unchanged to hosted Supabase (auth.mfa_factors exists there; sql/compat
-- provides it locally).

-- ---------------------------------------------------------------------------------
-- the second factor
-- ---------------------------------------------------------------------------------
-- True when the caller's user has a verified factor and this session has not presented
-- it (aal1). SECURITY DEFINER: the API roles cannot read auth.mfa_factors themselves.
create function private.second_factor_missing() returns boolean
language sql stable security definer set search_path = '' as $$
    select coalesce(auth.jwt() ->> 'aal', 'aal1') not in ('aal2', 'aal3')
       and exists (
           select 1 from auth.mfa_factors f
            where f.user_id = auth.uid() and f.status = 'verified'
       );
$$;

create function private.require_second_factor(p_action text) returns void
language plpgsql stable security definer set search_path = '' as $$
begin
    if private.second_factor_missing() then
        raise exception '% needs your second factor: your account has a verified one, so '
            'verify it in this session (an aal2 sign-in) and try again', p_action
            using errcode = 'SWMFA';
    end if;
end;
$$;

-- Whoever stores credentials as a signed-in user (connect_account, replace_credentials,
-- any later path) meets the check. The worker and `switchyard keys rotate` run without
-- a user's claims and are not asked.
create function private.second_factor_for_credentials() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    if auth.role() = 'authenticated' then
        perform private.require_second_factor(
            'connecting an account or replacing its credentials');
    end if;
    return new;
end;
$$;
create trigger account_secrets_second_factor before insert or update on private.account_secrets
    for each row execute function private.second_factor_for_credentials();

-- Deleting an account (the functions, or DELETE through PostgREST): a trigger rather than
-- a restrictive policy, so that the caller is told why instead of seeing 0 rows deleted.
-- RLS has already hidden other users' rows: the question is asked about one's own only.
create function private.second_factor_for_account_delete() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    if auth.role() = 'authenticated' then
        perform private.require_second_factor('deleting an account');
    end if;
    return old;
end;
$$;
create trigger accounts_second_factor before delete on public.accounts
    for each row execute function private.second_factor_for_account_delete();

-- ---------------------------------------------------------------------------------
-- API tokens
-- ---------------------------------------------------------------------------------
create table public.api_tokens (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    name text not null check (char_length(name) between 1 and 100),
    scopes text[] not null check (
        cardinality(scopes) between 1 and 3
        and array_position(scopes, null) is null
        and scopes <@ array['read', 'trade', 'accounts']::text[]
    ),
    -- sha256 of the token; the token itself is shown once, at creation, and never stored.
    token_hash bytea not null check (octet_length(token_hash) = 32),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    last_used_at timestamptz,
    revoked_at timestamptz,
    constraint api_tokens_token_hash_key unique (token_hash),
    constraint api_tokens_expire_after_creation check (expires_at > created_at)
);
create index api_tokens_user_id_idx on public.api_tokens (user_id, created_at desc);
alter table public.api_tokens enable row level security;
revoke all on table public.api_tokens from public, anon, authenticated;
grant select, insert, update, delete on table public.api_tokens to service_role;
-- Everything but the hash.
grant select (id, user_id, name, scopes, created_at, expires_at, last_used_at, revoked_at)
    on table public.api_tokens to authenticated;
create policy api_tokens_select_own on public.api_tokens for select to authenticated
    using ((select auth.uid()) = user_id);

-- At most this many live (unrevoked, unexpired) tokens per user.
create function private.create_api_token(
    p_name text, p_scopes text[], p_expires_in_days integer, p_token_hash bytea
) returns table (
    id uuid, name text, scopes text[], created_at timestamptz, expires_at timestamptz
)
language plpgsql security definer set search_path = '' as $$
declare
    uid uuid := private.require_user();
    made public.api_tokens;
    live integer;
begin
    -- A token that could mint tokens would outlive its own revocation (and widen its
    -- scopes): only a signed-in session creates them.
    if auth.jwt() ? 'switchyard_api_token' then
        raise exception 'an API token cannot create API tokens: sign in and create it with '
            'your session' using errcode = 'SW403';
    end if;
    perform private.require_second_factor('creating an API token');
    if p_expires_in_days is null or p_expires_in_days not between 1 and 365 then
        raise exception 'an API token expires in 1 to 365 days' using errcode = 'SW422';
    end if;
    perform pg_advisory_xact_lock(hashtextextended('switchyard.api_tokens:' || uid::text, 0));
    select count(*) into live from public.api_tokens t
     where t.user_id = uid and t.revoked_at is null and t.expires_at > now();
    if live >= 50 then
        raise exception 'you have % live API tokens, the most allowed: revoke one first', live
            using errcode = 'SW409';
    end if;
    insert into public.api_tokens (user_id, name, scopes, token_hash, expires_at)
    values (
        uid, p_name,
        (select array_agg(distinct s order by s) from unnest(p_scopes) as s),
        p_token_hash, now() + make_interval(days => p_expires_in_days)
    )
    returning * into made;
    perform private.write_audit(uid, null, null, 'api_token.created', jsonb_build_object(
        'api_token_id', made.id, 'name', made.name, 'scopes', to_jsonb(made.scopes),
        'expires_at', made.expires_at));
    return query select made.id, made.name, made.scopes, made.created_at, made.expires_at;
end;
$$;

-- Revoked at once: the next use, in any function process, finds no live token.
create function private.revoke_api_token(p_id uuid) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
    uid uuid := private.require_user();
    revoked public.api_tokens;
begin
    update public.api_tokens t set revoked_at = now()
     where t.id = p_id and t.user_id = uid and t.revoked_at is null
    returning * into revoked;
    if not found then
        raise exception 'API token % not found', p_id using errcode = 'P0002';
    end if;
    perform private.write_audit(uid, null, null, 'api_token.revoked', jsonb_build_object(
        'api_token_id', revoked.id, 'name', revoked.name));
    return revoked.id;
end;
$$;

-- One use of a token, by the functions' login role before it becomes the owner: the
-- live token (not revoked, not expired) whose hash is given, or no row. Every use is
-- recorded (`last_used_at`, an `api_token.used` audit row naming the endpoint, the scope
-- it needs, the client address the functions resolved and the user agent), and
-- `allowed` says whether the token's scopes include that scope (null: the endpoint
-- takes no API token).
create function private.use_api_token(
    p_token_hash bytea, p_scope text, p_method text, p_path text,
    p_client_address text, p_user_agent text
) returns table (token_id uuid, user_id uuid, scopes text[], allowed boolean)
language plpgsql security definer set search_path = '' as $$
declare
    t public.api_tokens;
    ok boolean;
begin
    update public.api_tokens a set last_used_at = now()
     where a.token_hash = p_token_hash and a.revoked_at is null and a.expires_at > now()
    returning a.* into t;
    if not found then
        return;
    end if;
    ok := p_scope is not null and p_scope = any(t.scopes);
    perform set_config('switchyard.client_address', coalesce(p_client_address, ''), true);
    perform set_config('request.headers',
        jsonb_build_object('user-agent', left(coalesce(p_user_agent, ''), 500))::text, true);
    perform set_config('request.jwt.claims', jsonb_build_object(
        'sub', t.user_id, 'role', 'authenticated',
        'switchyard_api_token', jsonb_build_object('id', t.id))::text, true);
    perform private.write_audit(t.user_id, null, null, 'api_token.used', jsonb_build_object(
        'name', t.name, 'method', left(p_method, 10), 'path', left(p_path, 200),
        'scope', p_scope, 'allowed', ok));
    return query select t.id, t.user_id, t.scopes, ok;
end;
$$;

-- ---------------------------------------------------------------------------------
-- an API token's scopes, in the database too
-- ---------------------------------------------------------------------------------
-- The functions check each route's declared scope before anything runs; the database
-- checks again what a token's request writes, from the scopes the functions put in the
-- claims (`switchyard_api_token.scopes`, as private.use_api_token returned them): a job
-- of a trade kind needs `trade`, any other job (verify, switch) and any change to an
-- account need `accounts`. Sessions (no such claim) and the worker are not asked.
create function private.require_token_scope(p_scope text) returns void
language plpgsql stable security definer set search_path = '' as $$
declare
    token jsonb := auth.jwt() -> 'switchyard_api_token';
begin
    if token is not null and not coalesce(token -> 'scopes' ? p_scope, false) then
        raise exception 'this API token has no % scope', p_scope using errcode = 'SW403';
    end if;
end;
$$;

create function private.token_scope_for_job() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    perform private.require_token_scope(
        case when new.kind in ('order', 'close', 'modify', 'cancel') then 'trade'
             else 'accounts' end);
    return new;
end;
$$;
create trigger jobs_token_scope before insert on public.jobs
    for each row execute function private.token_scope_for_job();

create function private.token_scope_for_account() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    perform private.require_token_scope('accounts');
    return case when tg_op = 'DELETE' then old else new end;
end;
$$;
create trigger accounts_token_scope before insert or update or delete on public.accounts
    for each row execute function private.token_scope_for_account();

-- ---------------------------------------------------------------------------------
-- the audit log names the API token
-- ---------------------------------------------------------------------------------
-- As in 20261202092000, but a write made with an API token (the functions put
-- `switchyard_api_token` in the claims) has actor `api_token` and the token's id in
-- `detail.api_token_id`.
create or replace function private.write_audit(
    p_user_id uuid, p_account_id uuid, p_job_id uuid, p_action text, p_detail jsonb
) returns void
language plpgsql security definer set search_path = '' as $$
declare
    headers jsonb := nullif(current_setting('request.headers', true), '')::jsonb;
    claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
    vouched text := nullif(current_setting('switchyard.client_address', true), '');
    token_id text := claims -> 'switchyard_api_token' ->> 'id';
    detail jsonb := coalesce(p_detail, '{}'::jsonb);
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
    if token_id is not null then
        detail := detail || jsonb_build_object('api_token_id', token_id);
    end if;
    insert into public.audit_log (user_id, account_id, job_id, action, detail, actor, ip, user_agent)
    values (
        p_user_id, p_account_id, p_job_id, p_action, detail,
        case when token_id is not null then 'api_token'
             else coalesce(claims ->> 'role', current_user::text) end,
        client_ip,
        left(headers ->> 'user-agent', 500)
    );
end;
$$;

-- ---------------------------------------------------------------------------------
-- who may call what
-- ---------------------------------------------------------------------------------
revoke all on function private.second_factor_missing() from public, anon, authenticated;
revoke all on function private.require_second_factor(text) from public, anon, authenticated;
revoke all on function private.second_factor_for_credentials() from public, anon, authenticated;
revoke all on function private.second_factor_for_account_delete()
    from public, anon, authenticated;
revoke all on function private.require_token_scope(text) from public, anon, authenticated;
revoke all on function private.token_scope_for_job() from public, anon, authenticated;
revoke all on function private.token_scope_for_account() from public, anon, authenticated;
revoke all on function private.create_api_token(text, text[], integer, bytea) from public, anon;
revoke all on function private.revoke_api_token(uuid) from public, anon;
revoke all on function private.use_api_token(bytea, text, text, text, text, text)
    from public, anon, authenticated;
grant execute on function private.create_api_token(text, text[], integer, bytea)
    to authenticated;
grant execute on function private.revoke_api_token(uuid) to authenticated;
grant execute on function private.use_api_token(bytea, text, text, text, text, text)
    to switchyard_functions;
