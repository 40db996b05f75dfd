-- Terminal scheduling: which broker servers a terminal serves, jobs routed to the lane
-- already logged in to their account, and the effective sync interval, measured.
--
-- * `private.terminals.servers`: the broker servers a terminal can log in to (a terminal
--   installed for one broker cannot reach another's), as the worker was configured
--   (SWITCHYARD_MT5_TERMINALS `host:port=Server-A|Other-*`); null = any server. Written by
--   every `acquire_terminal`.
-- * `claim_job` takes the claiming terminal (`p_terminal`). An MT5 job then goes only to a
--   terminal that serves its account's server, and not to this terminal when another
--   terminal that is leased right now is logged in to the job's account (that lane takes
--   it, without a login). The claim records the claimed job's account as the terminal's
--   `logged_in_account` at once, so the other lanes leave that account's jobs to it while
--   the login is still under way. The hint is for scheduling only: the lane checks
--   `account_info()` against the job's account before every order, as always.
-- * The preferred (logged-in) account's job is taken only when its priority is at least
--   that of the best other job: a trade is never kept waiting behind the logged-in
--   account's syncs. `p_fair_wait_s` is now a wait bound: the preference ends once
--   another account's job (that this terminal may take) has been due that long; null: no
--   bound (a lane draining its account, see worker/venues/mt5/terminal_lane.py).
-- * `fail_unserved_jobs`: queued MT5 jobs whose account's server no known terminal
--   serves end `failed` at once (venue_unavailable, with that reason), and a pending
--   account on such a server becomes `failed` with the same reason. Known terminals are
--   the rows of private.terminals (a retired terminal keeps its row until an operator
--   deletes it, so a worker restarting never makes jobs fail). Called by an MT5 claim that
--   found nothing and by the scheduler's tick.
-- * `private.sync_status`: per venue, the accounts to sync, how many were synced in the
--   last window, and the effective interval that rate gives; written by the scheduler,
--   for operators (service_role only).
--
-- Deploy the worker of the same release with this migration: `acquire_terminal` takes the
-- servers now (an older worker's acquisitions fail until it is redeployed; jobs wait).

-- ---------------------------------------------------------------------------------
-- terminals.servers
-- ---------------------------------------------------------------------------------
alter table private.terminals
    add column servers text[] check (servers is null or cardinality(servers) > 0);

-- The LIKE patterns of a terminal's server list: `*` is any run of characters; `%`, `_`
-- and `\` stand for themselves.
create function private.server_patterns(p_servers text[]) returns text[]
language sql immutable set search_path = '' as $$
    select array(
        select replace(replace(replace(replace(s, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%')
          from unnest(p_servers) as s
    )
$$;

-- Whether a terminal with this server list can log in to `p_server` (null list: any).
create function private.serves(p_servers text[], p_server text) returns boolean
language sql immutable set search_path = '' as $$
    select p_servers is null
        or coalesce(p_server like any (private.server_patterns(p_servers)), false)
$$;

-- ---------------------------------------------------------------------------------
-- acquire_terminal: as in 20261121140000, records the servers it serves, and says
-- when to try again
-- ---------------------------------------------------------------------------------
-- Always one row: `acquired`, and when not, `retry_in_s`, the holder's lease left (so a
-- standby worker takes a dead worker's terminal as soon as its lease ends, not a poll
-- interval later).
drop function private.acquire_terminal(text, text, double precision);

create function private.acquire_terminal(
    p_address text, p_owner text, p_lease_s double precision, p_servers text[]
)
returns table (
    address text, logged_in_account uuid, acquired boolean, retry_in_s double precision
)
language plpgsql security definer set search_path = '' as $$
begin
    return query
    insert into private.terminals as t (address, lease_owner, lease_expires_at, servers)
    values (p_address, p_owner, now() + make_interval(secs => p_lease_s), p_servers)
    on conflict on constraint terminals_pkey do update
       set lease_owner = excluded.lease_owner, lease_expires_at = excluded.lease_expires_at,
           servers = excluded.servers
     where t.lease_owner is null or t.lease_owner = excluded.lease_owner
        or t.lease_expires_at < now()
    returning t.address, t.logged_in_account, true, 0::double precision;
    if not found then
        return query
        select t.address, null::uuid, false,
               greatest(extract(epoch from t.lease_expires_at - clock_timestamp()), 0)::float8
          from private.terminals t
         where t.address = p_address;
    end if;
end;
$$;

-- ---------------------------------------------------------------------------------
-- fail_unserved_jobs: jobs of servers that no terminal serves end at once
-- ---------------------------------------------------------------------------------
create function private.fail_unserved_jobs() returns integer
language plpgsql security definer set search_path = '' as $$
declare
    v_count integer;
begin
    if not exists (select 1 from private.terminals) then
        return 0;  -- no terminal known yet: jobs wait for a worker, as always
    end if;
    with unserved as (
        select j.id, a.id as account_id, a.server
          from public.jobs j
          join public.accounts a on a.id = j.account_id
         where j.status = 'queued' and j.venue = 'mt5'
           and not exists (select 1 from private.terminals t
                            where private.serves(t.servers, a.server))
           for update of j skip locked
    ), failed as (
        update public.jobs j
           set status = 'failed', finished_at = now(),
               error = jsonb_build_object(
                   'code', 'venue_unavailable',
                   'message', 'no MT5 terminal of this deployment serves the server '
                       || coalesce('''' || u.server || '''', '(none)')
                       || ': the account cannot be used here; nothing was sent')
          from unserved u
         where j.id = u.id
        returning u.account_id, u.server
    ), accounts as (
        update public.accounts a
           set status = 'failed',
               status_reason = 'no MT5 terminal of this deployment serves the server '
                   || coalesce('''' || f.server || '''', '(none)')
          from (select distinct account_id, server from failed) f
         where a.id = f.account_id and a.status = 'pending'
        returning a.id
    )
    select count(*) into v_count from failed;
    return v_count;
end;
$$;

-- ---------------------------------------------------------------------------------
-- claim_job: as in 20261202100000, for one terminal (servers, affinity, priority)
-- ---------------------------------------------------------------------------------
drop function private.claim_job(text, double precision, text[], uuid, double precision);

create function private.claim_job(
    p_owner text,
    p_lease_s double precision,
    p_venues text[],
    p_prefer_account uuid default null,
    p_fair_wait_s double precision default 0,
    p_terminal text default null
) returns table (
    id uuid, user_id uuid, account_id uuid, kind text, payload jsonb, attempts integer,
    max_attempts integer, created_at timestamptz, rescued boolean,
    expires_in_s double precision
)
language plpgsql security definer set search_path = '' as $$
declare
    v_lease interval := make_interval(secs => p_lease_s);
    v_prefer uuid := p_prefer_account;
    v_skip uuid[] := '{}';
    v_servers text[];
    v_id uuid;
    v_account uuid;
    v_priority smallint;
    v_pref_id uuid;
    v_job public.jobs;
begin
    if coalesce(cardinality(p_venues), 0) = 0
       or array_position(p_venues, null) is not null
       or not (p_venues <@ array['mt5', 'binance', 'bybit', 'okx']) then
        raise exception 'claim_job: unknown venues %', p_venues using errcode = '22023';
    end if;
    if p_terminal is not null then
        select t.servers into v_servers
          from private.terminals t
         where t.address = p_terminal and t.lease_owner = p_owner
           and t.lease_expires_at > now();
        if not found then
            return;  -- not our terminal (any more): no job for it
        end if;
    end if;

    -- 0. expired queued jobs end here (in this transaction, so step 3 cannot pick one;
    --    one locked by another claimer is skipped by step 3's SKIP LOCKED as well)
    perform private.expire_jobs();

    -- 1. a crashed worker's job, on a terminal that serves its server (its deadline, if
    --    any, is checked by the worker, which looks the order up first)
    select j.id into v_id
      from public.jobs j
      left join public.accounts a on a.id = j.account_id
     where j.status = 'running' and j.lease_expires_at < now()
       and j.venue = any(p_venues)
       and (p_terminal is null or a.id is null or private.serves(v_servers, a.server))
     order by j.lease_expires_at
     limit 1
       for update of j skip locked;
    if found then
        update public.jobs j
           set lease_owner = p_owner, lease_expires_at = now() + v_lease,
               attempts = j.attempts + 1
         where j.id = v_id
        returning j.* into v_job;
        if p_terminal is not null then
            update private.terminals t set logged_in_account = v_job.account_id
             where t.address = p_terminal and t.lease_owner = p_owner;
        end if;
        return query select v_job.id, v_job.user_id, v_job.account_id, v_job.kind,
            v_job.payload, v_job.attempts, v_job.max_attempts, v_job.created_at, true,
            extract(epoch from v_job.expires_at - clock_timestamp())::double precision;
        return;
    end if;

    -- 2. the wait rule (when asked for): once a job of another account (that this
    --    terminal may take) has been due for more than p_fair_wait_s, the preferred
    --    account no longer overtakes it. (Until 20261203150000 the rule compared with the
    --    preferred account's oldest due job; a lane now asks only once its drain is over,
    --    with the drain's length.)
    if v_prefer is not null and p_fair_wait_s is not null and exists (
        select 1
          from public.jobs j
          left join public.accounts a on a.id = j.account_id
         where j.status = 'queued'
           and j.run_after < now() - make_interval(secs => p_fair_wait_s)
           and j.account_id is distinct from v_prefer
           and j.venue = any(p_venues)
           and (p_terminal is null or a.id is null
                or (private.serves(v_servers, a.server)
                    and not exists (
                        select 1 from private.terminals o
                         where o.logged_in_account = j.account_id
                           and o.address <> p_terminal
                           and o.lease_expires_at > now()
                           and private.serves(o.servers, a.server))))
    ) then
        v_prefer := null;
    end if;

    -- 3. a queued job that is due, of an account with nothing running
    loop
        v_id := null;
        v_priority := null;
        -- The best due job of each venue that this terminal may take (an ordered probe
        -- of jobs_claim_idx per venue), then the best of those. Each probe locks its
        -- row; the ones not taken are released when this claim's transaction ends.
        select c.id, c.account_id, c.priority into v_id, v_account, v_priority
          from unnest(p_venues) as v (venue)
         cross join lateral (
               select j.id, j.account_id, j.priority, j.run_after, j.created_at
                 from public.jobs j
                 left join public.accounts a on a.id = j.account_id
                where j.status = 'queued' and j.venue = v.venue
                  and j.run_after <= now()
                  and (j.account_id is null or not (j.account_id = any(v_skip)))
                  and not exists (select 1 from public.jobs r
                                   where r.account_id = j.account_id
                                     and r.status = 'running')
                  -- a terminal serving the job's server, and none other logged in to it
                  and (p_terminal is null or a.id is null
                       or (private.serves(v_servers, a.server)
                           and not exists (
                               select 1 from private.terminals o
                                where o.logged_in_account = j.account_id
                                  and o.address <> p_terminal
                                  and o.lease_expires_at > now()
                                  and private.serves(o.servers, a.server))))
                order by j.priority desc, j.run_after, j.created_at
                limit 1
                  for update of j skip locked
               ) c
         order by c.priority desc, c.run_after, c.created_at
         limit 1;
        -- The logged-in account's own job instead, unless the best other one matters more.
        if v_prefer is not null and not (v_prefer = any(v_skip)) then
            select j.id into v_pref_id
              from public.jobs j
             where j.status = 'queued' and j.run_after <= now()
               and j.account_id = v_prefer
               and j.venue = any(p_venues)
               and j.priority >= coalesce(v_priority, -32768)
               and not exists (select 1 from public.jobs r
                                where r.account_id = j.account_id and r.status = 'running')
             order by j.priority desc, j.run_after, j.created_at
             limit 1
               for update of j skip locked;
            if v_pref_id is not null then
                v_id := v_pref_id;
                v_account := v_prefer;
            end if;
        end if;
        if v_id is null then
            if p_terminal is not null then
                perform private.fail_unserved_jobs();
            end if;
            return;
        end if;
        -- Another claimer is starting a job of this account right now: take another
        -- account instead of queueing behind its transaction on the unique index.
        if v_account is not null and not pg_try_advisory_xact_lock(
            hashtextextended('switchyard.claim:' || v_account::text, 0)
        ) then
            v_skip := v_skip || v_account;
            continue;
        end if;
        begin
            update public.jobs j
               set status = 'running', lease_owner = p_owner, lease_expires_at = now() + v_lease,
                   attempts = j.attempts + 1, started_at = coalesce(j.started_at, now())
             where j.id = v_id
            returning j.* into v_job;
            if p_terminal is not null then
                update private.terminals t set logged_in_account = v_job.account_id
                 where t.address = p_terminal and t.lease_owner = p_owner
                   and t.logged_in_account is distinct from v_job.account_id;
            end if;
            return query select v_job.id, v_job.user_id, v_job.account_id, v_job.kind,
                v_job.payload, v_job.attempts, v_job.max_attempts, v_job.created_at, false,
                extract(epoch from v_job.expires_at - clock_timestamp())::double precision;
            return;
        exception when unique_violation then
            -- another lane started a job of this account a moment ago
            v_skip := v_skip || v_account;
        end;
    end loop;
end;
$$;

-- ---------------------------------------------------------------------------------
-- sync_status: the effective sync interval, measured by the scheduler
-- ---------------------------------------------------------------------------------
create table private.sync_status (
    venue text primary key check (venue in ('mt5', 'binance', 'bybit', 'okx')),
    -- verified, active accounts of the venue (each due a sync every interval)
    accounts integer not null,
    -- of those, synced within the last window_s seconds
    synced_in_window integer not null,
    window_s double precision not null,
    configured_interval_s double precision not null,
    -- window_s × accounts / synced_in_window: how often each account is really synced at
    -- the rate of the last window (null: none was synced in it)
    effective_interval_s double precision,
    -- sync jobs queued and not started
    backlog integer not null,
    oldest_synced_at timestamptz,
    measured_at timestamptz not null default now()
);
alter table private.sync_status enable row level security;
revoke all on table private.sync_status from public, anon, authenticated;
grant select, insert, update, delete on table private.sync_status to service_role;

revoke all on function private.server_patterns(text[]) from public, anon, authenticated;
revoke all on function private.serves(text[], text) from public, anon, authenticated;
revoke all on function private.fail_unserved_jobs() from public, anon, authenticated;
revoke all on function private.acquire_terminal(text, text, double precision, text[])
    from public, anon, authenticated;
revoke all on function
    private.claim_job(text, double precision, text[], uuid, double precision, text)
    from public, anon, authenticated;
grant execute on function private.server_patterns(text[]) to service_role;
grant execute on function private.serves(text[], text) to service_role;
grant execute on function private.fail_unserved_jobs() to service_role;
grant execute on function private.acquire_terminal(text, text, double precision, text[])
    to service_role;
grant execute on function
    private.claim_job(text, double precision, text[], uuid, double precision, text)
    to service_role;
