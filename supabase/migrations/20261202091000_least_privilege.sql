-- Least privilege, also for sequences, functions and the functions' own login.
--
--   * The HTTP functions get a login role of their own, `switchyard_functions`: it can
--     switch into `anon` and `authenticated` and nothing else. `authenticator` (which
--     PostgREST needs, and which Supabase lets become `service_role`) is no longer theirs.
--   * `anon` and `authenticated` hold nothing on our sequences, and whatever the
--     migrating role creates from now on starts closed: tables, sequences and functions
--     are granted explicitly or not at all.
--   * Only the functions' login role charges the rate limit, before it switches into
--     `authenticated`; a user can no longer reset their own counters. A window of 0 s is
--     refused before anything is divided by it, and a token whose user no longer exists
--     is SQLSTATE 28000 (the functions answer 401), not a foreign-key violation.
--
-- Deployable unchanged to hosted Supabase, where migrations run as `postgres` (CREATEROLE,
-- ADMIN OPTION on anon and authenticated). The role is created without a password: the
-- operator sets one (`alter role switchyard_functions with password '...'`).

-- ---------------------------------------------------------------------------------
-- the functions' login role
-- ---------------------------------------------------------------------------------
-- Roles are cluster-wide: another database of the same server may have created it
-- already, or be creating it at this very moment.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'switchyard_functions') then
        begin
            create role switchyard_functions login noinherit;
        exception when duplicate_object or unique_violation then
            null;  -- created concurrently by another database of this cluster
        end;
    end if;
end;
$$;
grant anon, authenticated to switchyard_functions;

-- An existing role that can do more than this (a superuser, BYPASSRLS, a member of
-- service_role or of any other role) is a misconfiguration the migration refuses to
-- build on: the functions would run with more than a user's rights.
do $$
declare
    too_much text;
begin
    select string_agg(what, ', ') into too_much from (
        select 'superuser' as what from pg_roles
         where rolname = 'switchyard_functions' and rolsuper
        union all
        select 'bypassrls' from pg_roles
         where rolname = 'switchyard_functions' and rolbypassrls
        union all
        select 'createrole or createdb' from pg_roles
         where rolname = 'switchyard_functions' and (rolcreaterole or rolcreatedb)
        union all
        select 'inherits the roles it is granted' from pg_roles
         where rolname = 'switchyard_functions' and rolinherit
        union all
        select 'member of ' || r.rolname
          from pg_auth_members m
          join pg_roles r on r.oid = m.roleid
         where m.member = 'switchyard_functions'::regrole
           and r.rolname not in ('anon', 'authenticated')
    ) found;
    if too_much is not null then
        raise exception 'the role switchyard_functions exists but can do too much (%): it must '
            'be LOGIN NOINHERIT and a member of anon and authenticated only', too_much
            using errcode = '42501';
    end if;
end;
$$;

-- ---------------------------------------------------------------------------------
-- sequences: nothing for the API roles (identity columns need no sequence privilege)
-- ---------------------------------------------------------------------------------
revoke all on sequence public.audit_log_id_seq, public.balance_snapshots_id_seq
    from public, anon, authenticated;

-- ---------------------------------------------------------------------------------
-- what the migrating role creates from now on starts closed
-- ---------------------------------------------------------------------------------
-- Supabase grants everything the migrating role creates in `public` to anon and
-- authenticated; Postgres itself lets PUBLIC execute every new function. Both are taken
-- back for the role running this migration (`postgres` on hosted Supabase): a later
-- migration grants what it means to expose, and a forgotten grant fails closed.
alter default privileges in schema public revoke all on tables from anon, authenticated;
alter default privileges in schema public revoke all on sequences from anon, authenticated;
alter default privileges in schema public revoke all on functions from anon, authenticated;
alter default privileges revoke execute on functions from public;

-- ---------------------------------------------------------------------------------
-- rate limiting: charged by the functions' login role only, for an explicit user
-- ---------------------------------------------------------------------------------
drop function private.take_rate_limit(text[], integer[], integer);

-- The same sliding window as before (this window's hits + the previous window's,
-- weighted by how much of it still overlaps), one row per user and bucket. Charges every
-- bucket or none: allowed only when each bucket has room. When refused, retry_after_s
-- says when the tightest bucket will have room for one more request.
--
-- p_user_id is the verified token's subject; the caller has not switched into the user's
-- role yet, so no claims are set. A user that does not exist (deleted, with a token still
-- live) is SQLSTATE 28000, like a request without a user.
create function private.take_rate_limit(
    p_user_id uuid, p_buckets text[], p_limits integer[], p_window_s integer
) returns table (allowed boolean, retry_after_s integer)
language plpgsql security definer set search_path = '' as $$
declare
    window_len interval;
    current_start timestamptz;
    elapsed double precision;
    wait_s double precision := 0;
    counter private.rate_limit_counters;
    hits_now integer;
    hits_before integer;
    lim integer;
    i integer;
begin
    -- Checked before anything is computed from them (a 0 s window would divide by zero).
    if p_window_s is null or p_window_s not between 1 and 86400 then
        raise exception 'take_rate_limit: the window must be 1 to 86400 seconds, not %',
            coalesce(p_window_s::text, 'null')
            using errcode = '22023';
    end if;
    if coalesce(array_length(p_buckets, 1), 0) = 0
       or array_length(p_buckets, 1) is distinct from array_length(p_limits, 1)
       or array_position(p_buckets, null) is not null
       or exists (select 1 from unnest(p_limits) as l where l is null or l < 1) then
        raise exception 'take_rate_limit: one limit (at least 1) per named bucket'
            using errcode = '22023';
    end if;
    if p_user_id is null then
        raise exception 'no authenticated user' using errcode = '28000';
    end if;
    window_len := make_interval(secs => p_window_s);
    current_start := to_timestamp(floor(extract(epoch from now()) / p_window_s) * p_window_s);
    elapsed := extract(epoch from now() - current_start) / p_window_s;
    begin
        for i in 1 .. array_length(p_buckets, 1) loop
            -- One statement: creates the counter on first use, else locks and returns it.
            -- Its foreign key also locks the user row: nobody deletes it under our feet.
            insert into private.rate_limit_counters as c (user_id, bucket, window_start, hits)
            values (p_user_id, p_buckets[i], current_start, 0)
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
                    -- hits_before > 0 here, or the sum above could not exceed the limit.
                    wait_s := greatest(wait_s, p_window_s
                        * (1 - (lim - 1 - hits_now)::double precision / hits_before - elapsed));
                end if;
            end if;
        end loop;
    exception when foreign_key_violation then
        -- The only foreign key of the counters is their user's.
        raise exception 'the access token names a user that does not exist'
            using errcode = '28000';
    end;
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
         where c.user_id = p_user_id and c.bucket = p_buckets[i];
    end loop;
    return query select true, 0;
end;
$$;

revoke all on function private.take_rate_limit(uuid, text[], integer[], integer)
    from public, anon, authenticated;
grant usage on schema private to switchyard_functions;
grant execute on function private.take_rate_limit(uuid, text[], integer[], integer)
    to switchyard_functions;
