-- Jobs are routed to lanes by their venue, in SQL: `public.jobs.venue`, and a claim that
-- takes the venues a lane serves.
--
-- Until now `claim_job` took a lane name ('mt5' or 'other') and derived each job's lane
-- from its account's kind at claim time (`case when a.kind = 'mt5' ...`), so every venue a
-- worker might serve meant another branch in that function. A job now carries its venue,
-- copied from its account when the job is inserted (a BEFORE INSERT trigger, so every
-- insert path gets it: the private functions, the scheduler, plain inserts). It is never
-- derived again, so the job of an account deleted meanwhile (`account_id` set null) keeps
-- its venue and is ended by that venue's lane ("the account no longer exists").
--
-- Deploy the worker of the same release with this migration: the claim's signature
-- changes (`p_venues text[]` instead of `p_lane text`), so an older worker's claims fail
-- until it is redeployed. Nothing is lost meanwhile: jobs wait in the queue.

-- ---------------------------------------------------------------------------------
-- jobs.venue
-- ---------------------------------------------------------------------------------
alter table public.jobs
    add column venue text check (venue in ('mt5', 'binance', 'bybit', 'okx'));

create function private.set_job_venue() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    -- From the account whenever there is one: a job never names another venue than its
    -- account's (a forged or stale value given by the insert is overwritten).
    if new.account_id is not null then
        select a.venue into new.venue from public.accounts a where a.id = new.account_id;
    end if;
    return new;
end;
$$;
create trigger jobs_set_venue before insert on public.jobs
    for each row execute function private.set_job_venue();
revoke all on function private.set_job_venue() from public, anon, authenticated;

-- Backfill. Jobs whose account still exists take its venue.
update public.jobs j
   set venue = a.venue
  from public.accounts a
 where a.id = j.account_id and j.venue is null;

-- Jobs whose account was deleted before this migration cannot tell their venue any more.
-- The ones that can still run (queued again after an attempt, or running) are MT5 jobs:
-- only MT5 lanes ever started a job that could run again (the old 'other' lane failed
-- every job at once), and queued jobs are cancelled when their account is deleted. Any
-- lane ends such a job the same way ("the account no longer exists"). Finished ones keep
-- no venue: nothing routes them any more, and inventing one would be wrong history.
update public.jobs
   set venue = 'mt5'
 where venue is null and account_id is null
   and status not in ('succeeded', 'failed', 'cancelled');

-- Every job that can run has a venue; only finished jobs of accounts deleted before this
-- migration may have none. New jobs always get one at insert, and keep it.
alter table public.jobs
    add constraint jobs_venue_known
        check (venue is not null or (account_id is null and finished_at is not null));

-- The claim reads queued jobs of its venues by priority, then age.
drop index public.jobs_claim_idx;
create index jobs_claim_idx on public.jobs (venue, priority desc, run_after, created_at)
    where status = 'queued';

-- ---------------------------------------------------------------------------------
-- claim_job: as in 20261202093000, for the venues a lane serves
-- ---------------------------------------------------------------------------------
-- p_venues: the venues whose jobs this lane takes (an MT5 terminal's lane: {mt5}).
-- Unknown venues, or none, are refused (22023), never read as "no job".
drop function private.claim_job(text, double precision, text, uuid, double precision);

create function private.claim_job(
    p_owner text,
    p_lease_s double precision,
    p_venues text[],
    p_prefer_account uuid default null,
    p_fair_wait_s double precision default 0
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
    v_id uuid;
    v_account uuid;
    v_job public.jobs;
begin
    if coalesce(cardinality(p_venues), 0) = 0
       or array_position(p_venues, null) is not null
       or not (p_venues <@ array['mt5', 'binance', 'bybit', 'okx']) then
        raise exception 'claim_job: unknown venues %', p_venues using errcode = '22023';
    end if;

    -- 0. expired queued jobs end here (in this transaction, so step 3 cannot pick one;
    --    one locked by another claimer is skipped by step 3's SKIP LOCKED as well)
    perform private.expire_jobs();

    -- 1. a crashed worker's job (its deadline, if any, is checked by the worker, which
    --    looks the order up first)
    select j.id into v_id
      from public.jobs j
     where j.status = 'running' and j.lease_expires_at < now()
       and j.venue = any(p_venues)
     order by j.lease_expires_at
     limit 1
       for update of j skip locked;
    if found then
        update public.jobs j
           set lease_owner = p_owner, lease_expires_at = now() + v_lease,
               attempts = j.attempts + 1
         where j.id = v_id
        returning j.* into v_job;
        return query select v_job.id, v_job.user_id, v_job.account_id, v_job.kind,
            v_job.payload, v_job.attempts, v_job.max_attempts, v_job.created_at, true,
            extract(epoch from v_job.expires_at - clock_timestamp())::double precision;
        return;
    end if;

    -- 2. fairness: a job of another account that was due more than p_fair_wait_s before
    --    the preferred account's oldest due job is not overtaken any further
    if v_prefer is not null and exists (
        select 1
          from public.jobs j
         where j.status = 'queued'
           and j.run_after < coalesce(
                   (select min(p.run_after) from public.jobs p
                     where p.status = 'queued' and p.account_id = v_prefer
                       and p.run_after <= now()),
                   now()) - make_interval(secs => p_fair_wait_s)
           and j.account_id is distinct from v_prefer
           and j.venue = any(p_venues)
    ) then
        v_prefer := null;
    end if;

    -- 3. a queued job that is due, of an account with nothing running
    loop
        v_id := null;
        if v_prefer is not null then
            select j.id, j.account_id into v_id, v_account
              from public.jobs j
             where j.status = 'queued' and j.run_after <= now()
               and j.account_id = v_prefer
               and j.venue = any(p_venues)
               and not (j.account_id = any(v_skip))
               and not exists (select 1 from public.jobs r
                                where r.account_id = j.account_id and r.status = 'running')
             order by j.priority desc, j.run_after, j.created_at
             limit 1
               for update of j skip locked;
        end if;
        if v_id is null then
            -- The best due job of each venue (an ordered probe of jobs_claim_idx per
            -- venue: `venue = any(...)` would read and sort every queued job), then the
            -- best of those. Each probe locks its row; the ones not taken are released
            -- when this claim's transaction ends.
            select c.id, c.account_id into v_id, v_account
              from unnest(p_venues) as v (venue)
             cross join lateral (
                   select j.id, j.account_id, j.priority, j.run_after, j.created_at
                     from public.jobs j
                    where j.status = 'queued' and j.venue = v.venue
                      and j.run_after <= now()
                      and (j.account_id is null or not (j.account_id = any(v_skip)))
                      and not exists (select 1 from public.jobs r
                                       where r.account_id = j.account_id
                                         and r.status = 'running')
                    order by j.priority desc, j.run_after, j.created_at
                    limit 1
                      for update of j skip locked
                   ) c
             order by c.priority desc, c.run_after, c.created_at
             limit 1;
        end if;
        if v_id is null then
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

revoke all on function private.claim_job(text, double precision, text[], uuid, double precision)
    from public, anon, authenticated;
grant execute on function private.claim_job(text, double precision, text[], uuid, double precision)
    to service_role;
