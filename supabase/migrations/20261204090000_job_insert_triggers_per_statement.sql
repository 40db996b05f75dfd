-- The triggers a job insert fires, paid once per statement where they can be.
--
-- One TradingView alert to 1,000 subscribers inserts 1,000 jobs in one statement
-- (private.receive_signal). Every row trigger on public.jobs then ran 1,000 times, each a
-- PL/pgSQL call, and most of them did nothing or the same thing each time. Measured with
-- auto_explain on the 1,000-subscriber alert (bench/signals_fanout.py's seed), the job
-- event alone (an insert into public.events, its foreign key, an auth.users lookup and a
-- NOTIFY per row) was the largest part of the statement. Now:
--
-- * jobs_event_insert: per statement, over the inserted rows (a transition table): one
--   insert into public.events for all of them, one NOTIFY per user. The event rows and
--   what they say are unchanged (private.job_event's object, the user-being-deleted rule
--   of private.record_event).
-- * jobs_notify: on insert, per statement: one NOTIFY switchyard_jobs per venue of the
--   queued jobs, its payload the venue (the worker wakes only the lanes that serve it,
--   not every lane of every venue to race for one job; '' for a job without a venue
--   wakes them all), and a switchyard_job_done for a job inserted already final. On a
--   status change it stays per row (jobs_notify_status; the functions wait on that job
--   id), and a job queued again names its venue too.
-- * jobs_audit: only called for the kinds it audits (a WHEN clause); a signal's jobs are
--   audited by receive_signal itself, set-based.
-- * jobs_token_scope: only called when the transaction carries JWT claims (a WHEN clause
--   on the settings auth.jwt() reads); without claims there is no API token to check, so
--   the call could only return. It stays BEFORE INSERT and per row, so a refused insert
--   is refused before anything else runs, as before.
-- * jobs_set_venue stays as it is: it writes the row.

-- ---------------------------------------------------------------------------------
-- job events, per statement
-- ---------------------------------------------------------------------------------
-- What a job event says (as private.job_event wrote it, 20261203120000), now in one
-- place for the row trigger on updates and the statement trigger on inserts.
create function private.job_event_data(j public.jobs) returns jsonb
language sql immutable set search_path = '' as $$
    select jsonb_build_object(
        'id', j.id, 'kind', j.kind, 'status', j.status, 'account_id', j.account_id,
        'payload', case when j.kind in ('order', 'close', 'modify', 'cancel') then j.payload end,
        'result', case when j.kind in ('order', 'close', 'modify', 'cancel') then j.result end,
        'error', j.error, 'attempts', j.attempts,
        'created_at', j.created_at, 'started_at', j.started_at,
        'finished_at', j.finished_at, 'expires_at', j.expires_at,
        'updated_at', j.updated_at);
$$;

create or replace function private.job_event() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    perform private.record_event(new.user_id, 'job', new.id, private.job_event_data(new));
    return null;
end;
$$;

create function private.job_events_inserted() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    -- private.record_event's rules, set-based: a user being deleted takes their events
    -- with them (cascade), so there is nothing to tell them; one NOTIFY per user.
    -- In the order the jobs were inserted (the transition table's): a correlated
    -- subquery, not a join the planner may reorder.
    insert into public.events (user_id, type, subject_id, data)
    select n.user_id, 'job', n.id, private.job_event_data(n)
      from new_jobs n
     where (select true from auth.users u where u.id = n.user_id);
    perform pg_notify('switchyard_events', d.user_id::text)
       from (select distinct n.user_id from new_jobs n
              where exists (select 1 from auth.users u where u.id = n.user_id)) d;
    return null;
end;
$$;

drop trigger jobs_event_insert on public.jobs;
create trigger jobs_event_insert after insert on public.jobs
    referencing new table as new_jobs
    for each statement execute function private.job_events_inserted();

-- ---------------------------------------------------------------------------------
-- NOTIFY, per statement on insert
-- ---------------------------------------------------------------------------------
create function private.notify_jobs_inserted() returns trigger
language plpgsql set search_path = '' as $$
begin
    perform pg_notify('switchyard_jobs', coalesce(v.venue, ''))
       from (select distinct n.venue from new_jobs n where n.status = 'queued') v;
    perform pg_notify('switchyard_job_done', n.id::text)
       from new_jobs n
      where n.status in ('succeeded', 'failed', 'cancelled');
    return null;
end;
$$;

-- A job queued again (a retry) wakes its venue's lanes the same way.
create or replace function private.notify_job() returns trigger
language plpgsql set search_path = '' as $$
begin
    if tg_op = 'INSERT' or new.status is distinct from old.status then
        if new.status = 'queued' then
            perform pg_notify('switchyard_jobs', coalesce(new.venue, ''));
        elsif new.status in ('succeeded', 'failed', 'cancelled') then
            perform pg_notify('switchyard_job_done', new.id::text);
        end if;
    end if;
    return null;
end;
$$;

drop trigger jobs_notify on public.jobs;
create trigger jobs_notify after insert on public.jobs
    referencing new table as new_jobs
    for each statement execute function private.notify_jobs_inserted();
create trigger jobs_notify_status after update of status on public.jobs
    for each row execute function private.notify_job();

-- ---------------------------------------------------------------------------------
-- row triggers called only when they have something to do
-- ---------------------------------------------------------------------------------
drop trigger jobs_audit on public.jobs;
create trigger jobs_audit after insert on public.jobs
    for each row
    when (new.kind in ('order', 'close', 'modify', 'cancel'))
    execute function private.audit_job_created();

drop trigger jobs_token_scope on public.jobs;
create trigger jobs_token_scope before insert on public.jobs
    for each row
    when (coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                   nullif(current_setting('request.jwt.claims', true), '')) is not null)
    execute function private.token_scope_for_job();

revoke all on function private.job_event_data(public.jobs) from public, anon, authenticated;
revoke all on function private.job_events_inserted() from public, anon, authenticated;
revoke all on function private.notify_jobs_inserted() from public, anon, authenticated;
