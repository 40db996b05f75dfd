-- The functions' per-request set-up in one statement, and a rate-limit charge that does
-- not wait for a WAL flush.
--
-- 1. private.charge_request: the charge of private.take_rate_limit, but a refusal is an
--    error (SQLSTATE SW429, the seconds to wait in its DETAIL) rather than a row. The
--    functions then charge and become the user in ONE statement,
--        select set_config('role', ...), ... from private.charge_request(...)
--    and send the request's own query behind it in the same pipeline without waiting for
--    the charge's answer: a refused charge aborts the transaction before the query runs,
--    and nothing is counted (the error rolls the charge back).
-- 2. The counters are UNLOGGED. A transaction that wrote only unlogged tables commits
--    without waiting for its WAL to reach the disk (PostgreSQL's RecordTransactionCommit
--    skips the flush when the transaction wrote no WAL of its own), so a read request no
--    longer pays a synchronous commit for its charge, and the counters stay one table
--    that every function process shares. What that costs: after a crash of the database
--    server the counters start again from zero (a minute of limits forgotten), and read
--    replicas do not have them (only the primary charges).

alter table private.rate_limit_counters set unlogged;

create function private.charge_request(
    p_user_id uuid, p_buckets text[], p_limits integer[], p_window_s integer
) returns void
language plpgsql set search_path = '' as $$
declare
    answer record;
begin
    select * into strict answer
      from private.take_rate_limit(p_user_id, p_buckets, p_limits, p_window_s);
    if not answer.allowed then
        raise exception 'too many requests' using errcode = 'SW429',
            detail = answer.retry_after_s::text;
    end if;
end;
$$;

revoke all on function private.charge_request(uuid, text[], integer[], integer)
    from public, anon, authenticated;
grant execute on function private.charge_request(uuid, text[], integer[], integer)
    to switchyard_functions;
