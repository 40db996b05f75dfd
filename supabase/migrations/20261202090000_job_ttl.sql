-- Trade jobs carry a time-to-live. A trade not started by `expires_at` ends `cancelled`
-- with the error code `expired` and is never sent late: a market order accepted during
-- an outage must not run minutes later, when its sender has long given up (and perhaps
-- retried with a new key). Null: no deadline (verify, switch, sync).
alter table public.jobs add column expires_at timestamptz;
create index jobs_expiry_idx on public.jobs (expires_at)
    where status = 'queued' and expires_at is not null;
