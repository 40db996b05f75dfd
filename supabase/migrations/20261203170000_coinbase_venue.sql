-- Coinbase Advanced Trade, the fourth exchange: 'coinbase' becomes an allowed venue.
--
-- The one schema change a new venue needs: the value in the four places that list the
-- venues -- the check constraints of accounts.venue, jobs.venue and private.sync_status,
-- and claim_job's check of the venues a lane asks for (redefined below unchanged but for
-- that array; its signature, grants and behaviour stay as
-- 20261203150000_terminal_scheduling.sql made them).

alter table public.accounts drop constraint accounts_venue_check;
alter table public.accounts
    add constraint accounts_venue_check
        check (venue in ('mt5', 'binance', 'bybit', 'okx', 'coinbase'));

alter table public.jobs drop constraint jobs_venue_check;
alter table public.jobs
    add constraint jobs_venue_check
        check (venue in ('mt5', 'binance', 'bybit', 'okx', 'coinbase'));

alter table private.sync_status drop constraint sync_status_venue_check;
alter table private.sync_status
    add constraint sync_status_venue_check
        check (venue in ('mt5', 'binance', 'bybit', 'okx', 'coinbase'));

create or replace function private.claim_job(
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
       or not (p_venues <@ array['mt5', 'binance', 'bybit', 'okx', 'coinbase']) then
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
