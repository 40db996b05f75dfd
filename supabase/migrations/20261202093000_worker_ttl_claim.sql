-- The worker's side of a trade's time-to-live (`jobs.expires_at`, 20261202090000).
--
-- A queued job whose deadline passed is cancelled with `error.code = 'expired'`, set-based,
-- by every claim and by the scheduler's tick (so it ends even while every lane is busy):
-- `claim_job` never hands one out. A job an earlier attempt may have sent (its journal
-- row says anything but `rejected`) is not expired: it is claimed, looked up by its client
-- order id, and only cancelled once the terminal shows the order never happened.
--
-- `claim_job` also says how long the claimed job has left (`expires_in_s`, from the
-- database's clock): the worker turns it into a local monotonic deadline, checked again
-- right before anything is sent, so its own clock never has to agree with the database's.

-- ---------------------------------------------------------------------------------
-- expire_jobs: queued jobs past their time-to-live end `cancelled` / `expired`
-- ---------------------------------------------------------------------------------
create function private.expire_jobs() returns integer
language plpgsql security definer set search_path = '' as $$
declare
    v_count integer;
begin
    with due as (
        select e.id
          from public.jobs e
         where e.status = 'queued' and e.expires_at <= now()
           and not exists (select 1 from public.orders o
                            where o.job_id = e.id and o.status <> 'rejected')
           for update of e skip locked
    )
    update public.jobs j
       set status = 'cancelled', finished_at = now(),
           error = jsonb_build_object(
               'code', 'expired',
               'message', 'not started within its time-to-live (it expired at '
                   || to_char(j.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                   || '); nothing was sent')
      from due
     where j.id = due.id;
    get diagnostics v_count = row_count;
    return v_count;
end;
$$;

-- ---------------------------------------------------------------------------------
-- claim_job: as in 20261121140000, plus the expiry sweep and `expires_in_s`
-- ---------------------------------------------------------------------------------
drop function private.claim_job(text, double precision, text, uuid, double precision);

create function private.claim_job(
    p_owner text,
    p_lease_s double precision,
    p_lane text,
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
    if p_lane not in ('mt5', 'other') then
        raise exception 'claim_job: unknown lane %', p_lane using errcode = '22023';
    end if;

    -- 0. expired queued jobs end here (in this transaction, so step 3 cannot pick one;
    --    one locked by another claimer is skipped by step 3's SKIP LOCKED as well)
    perform private.expire_jobs();

    -- 1. a crashed worker's job (its deadline, if any, is checked by the worker, which
    --    looks the order up first)
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
            v_job.payload, v_job.attempts, v_job.max_attempts, v_job.created_at, true,
            extract(epoch from v_job.expires_at - clock_timestamp())::double precision;
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

revoke all on function private.expire_jobs() from public, anon, authenticated;
revoke all on function private.claim_job(text, double precision, text, uuid, double precision)
    from public, anon, authenticated;
grant execute on function private.expire_jobs() to service_role;
grant execute on function private.claim_job(text, double precision, text, uuid, double precision)
    to service_role;
