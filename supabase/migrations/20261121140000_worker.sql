-- The worker's coordination state: terminal leases, a worker registry, and the claim
-- function. Postgres is the coordinator: leases, SKIP LOCKED and the unique index
-- `jobs_one_running_per_account`; nothing here is reachable through the Supabase API.

-- ---------------------------------------------------------------------------------
-- workers: one row per worker process, renewed by its heartbeat (for operators)
-- ---------------------------------------------------------------------------------
create table private.workers (
    id text primary key check (char_length(id) between 1 and 200),
    name text not null,
    pid integer not null,
    terminals text[] not null default '{}',
    started_at timestamptz not null default now(),
    heartbeat_at timestamptz not null default now(),
    stopped_at timestamptz
);

-- ---------------------------------------------------------------------------------
-- terminals: an MT5 terminal (bridge address) is leased by one worker at a time
-- ---------------------------------------------------------------------------------
create table private.terminals (
    address text primary key check (char_length(address) between 3 and 255),
    lease_owner text,
    lease_expires_at timestamptz,
    -- The account the terminal was last seen logged in to: a hint for scheduling,
    -- always checked against the terminal itself before an order.
    logged_in_account uuid references public.accounts (id) on delete set null,
    updated_at timestamptz not null default now(),
    constraint terminals_lease_complete check ((lease_owner is null) = (lease_expires_at is null))
);
create trigger terminals_touch before update on private.terminals
    for each row execute function private.touch_updated_at();

alter table private.workers enable row level security;
alter table private.terminals enable row level security;
revoke all on table private.workers, private.terminals from public, anon, authenticated;
grant select, insert, update, delete on table private.workers, private.terminals to service_role;

-- Claiming orders queued jobs by priority, then age; this index serves that order.
create index jobs_claim_idx on public.jobs (priority desc, run_after, created_at)
    where status = 'queued';

-- ---------------------------------------------------------------------------------
-- claim_job: the next job for one lane, leased to p_owner
-- ---------------------------------------------------------------------------------
-- p_lane is 'mt5' (jobs of MT5 accounts) or 'other' (jobs of exchange accounts and
-- of accounts that no longer exist). A running job whose lease expired (its worker
-- died) comes first and is returned with rescued = true: it must be reconciled before
-- anything is sent again. Then queued jobs that are due, preferring p_prefer_account
-- (the account the lane's terminal is logged in to) unless another account's job was
-- due more than p_fair_wait_s before the preferred account's oldest one (so a job is
-- never overtaken by work that arrived more than p_fair_wait_s after it).
create function private.claim_job(
    p_owner text,
    p_lease_s double precision,
    p_lane text,
    p_prefer_account uuid default null,
    p_fair_wait_s double precision default 0
) returns table (
    id uuid, user_id uuid, account_id uuid, kind text, payload jsonb, attempts integer,
    max_attempts integer, created_at timestamptz, rescued boolean
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
    if p_lane not in ('mt5', 'other') then
        raise exception 'claim_job: unknown lane %', p_lane using errcode = '22023';
    end if;

    -- 1. a crashed worker's job
    select j.id into v_id
      from public.jobs j
      left join public.accounts a on a.id = j.account_id
     where j.status = 'running' and j.lease_expires_at < now()
       and (case when a.kind = 'mt5' then 'mt5' else 'other' end) = p_lane
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
            v_job.payload, v_job.attempts, v_job.max_attempts, v_job.created_at, true;
        return;
    end if;

    -- 2. fairness: a job of another account that was due more than p_fair_wait_s before
    --    the preferred account's oldest due job is not overtaken any further
    if v_prefer is not null and exists (
        select 1
          from public.jobs j
          left join public.accounts a on a.id = j.account_id
         where j.status = 'queued'
           and j.run_after < coalesce(
                   (select min(p.run_after) from public.jobs p
                     where p.status = 'queued' and p.account_id = v_prefer
                       and p.run_after <= now()),
                   now()) - make_interval(secs => p_fair_wait_s)
           and j.account_id is distinct from v_prefer
           and (case when a.kind = 'mt5' then 'mt5' else 'other' end) = p_lane
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
               and not (j.account_id = any(v_skip))
               and not exists (select 1 from public.jobs r
                                where r.account_id = j.account_id and r.status = 'running')
             order by j.priority desc, j.run_after, j.created_at
             limit 1
               for update of j skip locked;
        end if;
        if v_id is null then
            select j.id, j.account_id into v_id, v_account
              from public.jobs j
              left join public.accounts a on a.id = j.account_id
             where j.status = 'queued' and j.run_after <= now()
               and (case when a.kind = 'mt5' then 'mt5' else 'other' end) = p_lane
               and (j.account_id is null or not (j.account_id = any(v_skip)))
               and not exists (select 1 from public.jobs r
                                where r.account_id = j.account_id and r.status = 'running')
             order by j.priority desc, j.run_after, j.created_at
             limit 1
               for update of j skip locked;
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
                v_job.payload, v_job.attempts, v_job.max_attempts, v_job.created_at, false;
            return;
        exception when unique_violation then
            -- another lane started a job of this account a moment ago
            v_skip := v_skip || v_account;
        end;
    end loop;
end;
$$;

-- ---------------------------------------------------------------------------------
-- acquire_terminal: take (or keep) the lease of one terminal
-- ---------------------------------------------------------------------------------
create function private.acquire_terminal(p_address text, p_owner text, p_lease_s double precision)
returns table (address text, logged_in_account uuid)
language plpgsql security definer set search_path = '' as $$
begin
    return query
    insert into private.terminals as t (address, lease_owner, lease_expires_at)
    values (p_address, p_owner, now() + make_interval(secs => p_lease_s))
    on conflict on constraint terminals_pkey do update
       set lease_owner = excluded.lease_owner, lease_expires_at = excluded.lease_expires_at
     where t.lease_owner is null or t.lease_owner = excluded.lease_owner
        or t.lease_expires_at < now()
    returning t.address, t.logged_in_account;
end;
$$;

revoke all on function private.claim_job(text, double precision, text, uuid, double precision)
    from public, anon, authenticated;
revoke all on function private.acquire_terminal(text, text, double precision)
    from public, anon, authenticated;
grant execute on function private.claim_job(text, double precision, text, uuid, double precision)
    to service_role;
grant execute on function private.acquire_terminal(text, text, double precision)
    to service_role;

-- ---------------------------------------------------------------------------------
-- the journal also records closes, modifications and cancellations as done
-- ---------------------------------------------------------------------------------
alter table public.orders drop constraint orders_status_check;
alter table public.orders add constraint orders_status_check check (
    status in ('sent', 'filled', 'placed', 'closed', 'modified', 'cancelled', 'rejected',
               'unknown')
);
