-- Signals: a channel's webhook fans one alert out into one trade job per subscribed account.
--
--   public.signal_channels        a user's channel (private unless `public`)
--   private.signal_channel_secrets  its webhook secret, as a SHA-256 digest only
--   public.signal_subscriptions   one of a user's accounts on a channel, with its settings
--   public.signals                each accepted delivery, with its counts (the owner's)
--   public.signal_skips           a subscription a delivery skipped, and why (the
--                                 subscriber's); the ones it did not skip have a job
--   public.jobs.signal_id / subscription_id   where a signal's trade came from
--
-- Who sees what (RLS): the channel owner sees the channel and its signals with their
-- counts, never a subscription, a delivery or a job of anyone else; a subscriber sees the
-- channel's name (through the channel row), never its secret (no API role reads
-- `private.signal_channel_secrets`, not even the owner) nor the signals.
--
-- Writes: the owner creates and rotates through SECURITY DEFINER functions (the digest is
-- computed by the functions: the secret itself never reaches the database), deletes the
-- channel directly; a subscriber subscribes through `private.subscribe`, changes the
-- settings and deletes the subscription directly. The webhook has no user: only the
-- functions' login role may call `private.receive_signal`, which checks the digest,
-- charges the channel's rate limit, drops a replay and fans out in one statement.

-- ---------------------------------------------------------------------------------
-- jobs of kind 'signal'
-- ---------------------------------------------------------------------------------
alter table public.jobs drop constraint jobs_kind_check;
alter table public.jobs add constraint jobs_kind_check
    check (kind in ('verify', 'switch', 'order', 'close', 'modify', 'cancel', 'sync', 'signal'));
-- History: no foreign keys, so a trade keeps saying where it came from when the channel or
-- the subscription is deleted later (like audit_log.job_id).
alter table public.jobs add column signal_id uuid, add column subscription_id uuid;
-- What a subscription's latest alerts did (GET /v1/subscriptions/{id}).
create index jobs_subscription_id_idx on public.jobs (subscription_id, created_at desc)
    where subscription_id is not null;

-- A signal job's `trade.requested` row is written by private.receive_signal, in the same
-- statement for every job it queues (one row per subscriber, set-based); kind 'signal' is
-- created nowhere else. The jobs a signal job queues itself (close, cancel) are audited
-- here like any trade, naming the signal.
create or replace function private.audit_job_created() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    if new.kind in ('order', 'close', 'modify', 'cancel') then
        perform private.write_audit(new.user_id, new.account_id, new.id, 'trade.requested',
            jsonb_build_object('kind', new.kind, 'payload', new.payload)
            || case when new.signal_id is null then '{}'::jsonb
                    else jsonb_build_object('signal_id', new.signal_id,
                                            'subscription_id', new.subscription_id) end);
    end if;
    return new;
end;
$$;

-- Who is acting, from where: write_audit's actor, client address and user agent, as one
-- row, for an audit written set-based (the same rules as private.write_audit, 20261202092000).
create function private.audit_origin()
returns table (actor text, ip inet, user_agent text)
language plpgsql stable security definer set search_path = '' as $$
declare
    headers jsonb := nullif(current_setting('request.headers', true), '')::jsonb;
    vouched text := nullif(current_setting('switchyard.client_address', true), '');
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
            client_ip := null;
        end if;
    exception when invalid_text_representation then
        client_ip := null;
    end;
    return query select
        coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role',
                 current_user::text),
        client_ip,
        left(headers ->> 'user-agent', 500);
end;
$$;

-- ---------------------------------------------------------------------------------
-- channels and their secrets
-- ---------------------------------------------------------------------------------
create table public.signal_channels (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    name text not null check (char_length(name) between 1 and 100),
    public boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index signal_channels_user_id_idx on public.signal_channels (user_id);
create trigger signal_channels_touch before update on public.signal_channels
    for each row execute function private.touch_updated_at();

create table private.signal_channel_secrets (
    channel_id uuid primary key references public.signal_channels (id) on delete cascade,
    secret_hash bytea not null check (octet_length(secret_hash) = 32),
    rotated_at timestamptz not null default now()
);

-- ---------------------------------------------------------------------------------
-- subscriptions: one account of the subscriber's on one channel, with its settings
-- ---------------------------------------------------------------------------------
create table public.signal_subscriptions (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    channel_id uuid not null references public.signal_channels (id) on delete cascade,
    account_id uuid not null,
    -- The alert's symbol (TradingView's `BTCUSDT`, `FX:EURUSD`) → the venue's.
    symbols jsonb not null default '{}'::jsonb check (jsonb_typeof(symbols) = 'object'),
    -- {"mode": "fixed", "volume": 0.01} | {"mode": "balance_pct" | "risk_pct", "percent": 2}
    sizing jsonb not null check (
        jsonb_typeof(sizing) = 'object' and sizing ->> 'mode' in ('fixed', 'balance_pct', 'risk_pct')
    ),
    leverage integer check (leverage between 1 and 125),
    sl_pct numeric check (sl_pct > 0 and sl_pct < 100),
    tp_pct numeric check (tp_pct > 0 and tp_pct <= 1000),
    min_confidence numeric check (min_confidence >= 0),
    max_open_positions integer check (max_open_positions >= 1),
    auto_trade boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint signal_subscriptions_account_fkey foreign key (account_id, user_id)
        references public.accounts (id, user_id) on delete cascade,
    constraint signal_subscriptions_one_per_account unique (channel_id, account_id)
);
create index signal_subscriptions_user_id_idx on public.signal_subscriptions (user_id);
create index signal_subscriptions_account_id_idx on public.signal_subscriptions (account_id);
create trigger signal_subscriptions_touch before update on public.signal_subscriptions
    for each row execute function private.touch_updated_at();

-- ---------------------------------------------------------------------------------
-- signals (the owner's) and deliveries (each subscriber's)
-- ---------------------------------------------------------------------------------
create table public.signals (
    id uuid primary key default gen_random_uuid(),
    channel_id uuid not null references public.signal_channels (id) on delete cascade,
    -- The channel's owner: who may read it.
    user_id uuid not null references auth.users (id) on delete cascade,
    alert_id text check (char_length(alert_id) between 1 and 128),
    body_hash bytea not null check (octet_length(body_hash) = 32),
    action text not null
        check (action in ('buy', 'sell', 'close', 'close_long', 'close_short', 'cancel')),
    symbol text not null check (char_length(symbol) between 1 and 64),
    price numeric,
    sl numeric,
    tp numeric,
    size numeric,
    confidence numeric,
    queued integer not null default 0 check (queued >= 0),
    skipped integer not null default 0 check (skipped >= 0),
    received_at timestamptz not null default now(),
    constraint signals_alert_id_per_channel unique (channel_id, alert_id)
);
create index signals_user_id_idx on public.signals (user_id, received_at desc);
create index signals_recent_body_idx on public.signals (channel_id, body_hash, received_at desc);

-- A subscription a delivery skipped (no job), with the reason. A subscription it did not
-- skip has its job instead (jobs.signal_id / subscription_id).
create table public.signal_skips (
    id bigint generated always as identity primary key,
    signal_id uuid not null references public.signals (id) on delete cascade,
    subscription_id uuid references public.signal_subscriptions (id) on delete set null,
    -- The subscriber: who may read it.
    user_id uuid not null references auth.users (id) on delete cascade,
    account_id uuid,
    reason text not null check (reason in (
        'auto_trade_off', 'symbol_not_mapped', 'account_unavailable', 'min_confidence',
        'max_open_positions')),
    created_at timestamptz not null default now()
);
create index signal_skips_user_id_idx on public.signal_skips (user_id, created_at desc);
create index signal_skips_signal_id_idx on public.signal_skips (signal_id);
create index signal_skips_subscription_id_idx on public.signal_skips (subscription_id, created_at desc);

-- ---------------------------------------------------------------------------------
-- RLS and grants
-- ---------------------------------------------------------------------------------
alter table public.signal_channels enable row level security;
alter table private.signal_channel_secrets enable row level security;
alter table public.signal_subscriptions enable row level security;
alter table public.signals enable row level security;
alter table public.signal_skips enable row level security;

revoke all on table public.signal_channels, private.signal_channel_secrets,
    public.signal_subscriptions, public.signals, public.signal_skips
    from public, anon, authenticated;
grant select, insert, update, delete on table public.signal_channels,
    private.signal_channel_secrets, public.signal_subscriptions, public.signals,
    public.signal_skips to service_role;
grant select, delete on table public.signal_channels to authenticated;
grant update (name, public) on table public.signal_channels to authenticated;
grant select, delete on table public.signal_subscriptions to authenticated;
grant update (symbols, sizing, leverage, sl_pct, tp_pct, min_confidence, max_open_positions,
              auto_trade) on table public.signal_subscriptions to authenticated;
grant select on table public.signals, public.signal_skips to authenticated;

-- Whether the caller subscribes to the channel: a SECURITY DEFINER helper, so the
-- channel's policy does not run the subscriptions' policy (and cannot recurse).
create function private.subscribes_to(p_channel_id uuid) returns boolean
language sql stable security definer set search_path = '' as $$
    select exists (select 1 from public.signal_subscriptions s
                    where s.channel_id = p_channel_id and s.user_id = (select auth.uid()));
$$;
revoke all on function private.subscribes_to(uuid) from public, anon;
grant execute on function private.subscribes_to(uuid) to authenticated;

-- The owner; anyone signed in for a public channel; a subscriber for the one they follow.
create policy signal_channels_select_visible on public.signal_channels for select
    to authenticated using (
        (select auth.uid()) = user_id
        or (public and (select auth.uid()) is not null)
        or ((select auth.uid()) is not null and private.subscribes_to(id))
    );
create policy signal_channels_update_own on public.signal_channels for update to authenticated
    using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy signal_channels_delete_own on public.signal_channels for delete to authenticated
    using ((select auth.uid()) = user_id);
create policy signal_subscriptions_select_own on public.signal_subscriptions for select
    to authenticated using ((select auth.uid()) = user_id);
create policy signal_subscriptions_update_own on public.signal_subscriptions for update
    to authenticated using ((select auth.uid()) = user_id)
    with check ((select auth.uid()) = user_id);
create policy signal_subscriptions_delete_own on public.signal_subscriptions for delete
    to authenticated using ((select auth.uid()) = user_id);
create policy signals_select_own on public.signals for select to authenticated
    using ((select auth.uid()) = user_id);
create policy signal_skips_select_own on public.signal_skips for select
    to authenticated using ((select auth.uid()) = user_id);

-- ---------------------------------------------------------------------------------
-- the owner's writes
-- ---------------------------------------------------------------------------------
create function private.create_signal_channel(p_name text, p_public boolean, p_secret_hash bytea)
returns uuid
language plpgsql security definer set search_path = '' as $$
declare
    uid uuid := private.require_user();
    new_id uuid;
begin
    insert into public.signal_channels (user_id, name, public)
    values (uid, p_name, coalesce(p_public, false))
    returning id into new_id;
    insert into private.signal_channel_secrets (channel_id, secret_hash)
    values (new_id, p_secret_hash);
    perform private.write_audit(uid, null, null, 'signal_channel.created',
        jsonb_build_object('channel_id', new_id, 'name', p_name, 'public', p_public));
    return new_id;
end;
$$;

create function private.rotate_signal_secret(p_channel_id uuid, p_secret_hash bytea)
returns void
language plpgsql security definer set search_path = '' as $$
declare
    uid uuid := private.require_user();
begin
    perform 1 from public.signal_channels c
     where c.id = p_channel_id and c.user_id = uid
       for update;
    if not found then
        raise exception 'signal channel % not found', p_channel_id using errcode = 'P0002';
    end if;
    update private.signal_channel_secrets
       set secret_hash = p_secret_hash, rotated_at = now()
     where channel_id = p_channel_id;
    perform private.write_audit(uid, null, null, 'signal_channel.secret_rotated',
        jsonb_build_object('channel_id', p_channel_id));
end;
$$;

-- ---------------------------------------------------------------------------------
-- the subscriber's write: one of their own accounts on a channel they may see
-- ---------------------------------------------------------------------------------
create function private.subscribe(
    p_channel_id uuid,
    p_account_id uuid,
    p_symbols jsonb,
    p_sizing jsonb,
    p_leverage integer,
    p_sl_pct numeric,
    p_tp_pct numeric,
    p_min_confidence numeric,
    p_max_open_positions integer,
    p_auto_trade boolean
) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
    uid uuid := private.require_user();
    account public.accounts;
    new_id uuid;
begin
    account := private.own_account(p_account_id);
    perform 1 from public.signal_channels c
     where c.id = p_channel_id and (c.user_id = uid or c.public);
    if not found then
        raise exception 'signal channel % not found', p_channel_id using errcode = 'P0002';
    end if;
    if exists (select 1 from public.signal_subscriptions s
                where s.channel_id = p_channel_id and s.account_id = account.id) then
        raise exception 'account % already subscribes to channel %', account.id, p_channel_id
            using errcode = 'SW409';
    end if;
    insert into public.signal_subscriptions (
        user_id, channel_id, account_id, symbols, sizing, leverage, sl_pct, tp_pct,
        min_confidence, max_open_positions, auto_trade
    ) values (
        uid, p_channel_id, account.id, coalesce(p_symbols, '{}'::jsonb), p_sizing, p_leverage,
        p_sl_pct, p_tp_pct, p_min_confidence, p_max_open_positions, coalesce(p_auto_trade, true)
    )
    returning id into new_id;
    perform private.write_audit(uid, account.id, null, 'signal_subscription.created',
        jsonb_build_object('subscription_id', new_id, 'channel_id', p_channel_id));
    return new_id;
end;
$$;

-- ---------------------------------------------------------------------------------
-- the webhook: no user; the functions' login role only
-- ---------------------------------------------------------------------------------
-- Equal digests, in time independent of where they differ.
create function private.same_digest(a bytea, b bytea) returns boolean
language sql immutable set search_path = '' as $$
    select a is not null and b is not null and octet_length(a) = 32 and octet_length(b) = 32
       and (select bit_or(get_byte(a, i) # get_byte(b, i)) from generate_series(0, 31) as i) = 0;
$$;

-- p_secret_hash: SHA-256 of the body's secret (null when it has none); p_alert: the
-- validated alert {action, symbol, price, sl, tp, size, confidence, id}; p_body_hash:
-- SHA-256 of the alert without its secret (the replay window compares it).
-- Outcomes: 'accepted' (queued, skipped), 'replayed' (the first delivery's counts),
-- 'checked' (p_alert null: the secret is right, nothing else was done),
-- 'unauthorized' (unknown channel, or wrong/missing secret: an audit row of the owner's,
-- unless wrong secrets are coming faster than p_limit a minute), 'rate_limited'.
-- The channel row is locked for the call: deliveries of one channel are serial, so the
-- replay check cannot race; other channels go on in parallel.
create function private.receive_signal(
    p_channel_id uuid,
    p_secret_hash bytea,
    p_alert jsonb,
    p_body_hash bytea,
    p_ttl_s integer,
    p_replay_window_s integer,
    p_limit integer
) returns table (outcome text, queued integer, skipped integer, retry_after_s integer)
language plpgsql security definer set search_path = '' as $$
declare
    channel public.signal_channels;
    digest bytea;
    earlier public.signals;
    charge record;
    v_signal_id uuid;
    v_queued integer;
    v_skipped integer;
    v_action text := p_alert ->> 'action';
    v_symbol text := p_alert ->> 'symbol';
    v_confidence numeric := (p_alert ->> 'confidence')::numeric;
begin
    if p_ttl_s is null or p_ttl_s not between 1 and 86400 then
        raise exception 'receive_signal: a time-to-live of 1 to 86400 seconds' using errcode = '22023';
    end if;
    select * into channel from public.signal_channels c where c.id = p_channel_id for update;
    if not found then
        return query select 'unauthorized', 0, 0, 0;
        return;
    end if;
    select s.secret_hash into digest
      from private.signal_channel_secrets s where s.channel_id = channel.id;
    if not private.same_digest(digest, p_secret_hash) then
        select * into charge from private.take_rate_limit(
            channel.user_id, array['sigbad:' || replace(channel.id::text, '-', '')],
            array[p_limit], 60);
        if not charge.allowed then
            return query select 'rate_limited', 0, 0, charge.retry_after_s;
            return;
        end if;
        perform private.write_audit(channel.user_id, null, null, 'signal.rejected',
            jsonb_build_object('channel_id', channel.id, 'reason',
                case when p_secret_hash is null then 'no secret' else 'wrong secret' end));
        return query select 'unauthorized', 0, 0, 0;
        return;
    end if;
    select * into charge from private.take_rate_limit(
        channel.user_id, array['sig:' || replace(channel.id::text, '-', '')],
        array[p_limit], 60);
    if not charge.allowed then
        return query select 'rate_limited', 0, 0, charge.retry_after_s;
        return;
    end if;

    -- The secret is right but the alert is not valid: the caller answers why (422).
    if p_alert is null then
        return query select 'checked', 0, 0, 0;
        return;
    end if;

    -- A replay: the same alert id, or the same body within the window.
    select * into earlier from public.signals s
     where s.channel_id = channel.id
       and ((p_alert ->> 'id') is not null and s.alert_id = p_alert ->> 'id'
            or (p_alert ->> 'id') is null and s.alert_id is null
               and s.body_hash = p_body_hash
               and s.received_at > now() - make_interval(secs => p_replay_window_s))
     order by s.received_at desc
     limit 1;
    if found then
        return query select 'replayed', earlier.queued, earlier.skipped, 0;
        return;
    end if;

    insert into public.signals (channel_id, user_id, alert_id, body_hash, action, symbol, price,
                                sl, tp, size, confidence)
    values (channel.id, channel.user_id, p_alert ->> 'id', p_body_hash, v_action, v_symbol,
            (p_alert ->> 'price')::numeric, (p_alert ->> 'sl')::numeric,
            (p_alert ->> 'tp')::numeric, (p_alert ->> 'size')::numeric, v_confidence)
    returning id into v_signal_id;

    -- The fan-out: one statement, one job per subscription that takes the signal, one
    -- delivery row per subscription (the job's, or the reason it was skipped).
    with judged as (
        select s.id as subscription_id, s.user_id, s.account_id, s.sizing, s.leverage,
               s.sl_pct, s.tp_pct, s.max_open_positions,
               coalesce(s.symbols ->> v_symbol, s.symbols ->> nullif(split_part(v_symbol, ':', 2), ''))
                   as venue_symbol,
               case
                   when not s.auto_trade then 'auto_trade_off'
                   when coalesce(s.symbols ->> v_symbol,
                                 s.symbols ->> nullif(split_part(v_symbol, ':', 2), '')) is null
                       then 'symbol_not_mapped'
                   when not a.is_active or a.status <> 'verified' then 'account_unavailable'
                   when s.min_confidence is not null
                        and (v_confidence is null or v_confidence < s.min_confidence)
                       then 'min_confidence'
                   when s.max_open_positions is not null and v_action in ('buy', 'sell')
                        and (select count(*) from public.positions p
                              where p.account_id = s.account_id) >= s.max_open_positions
                       then 'max_open_positions'
               end as reason
          from public.signal_subscriptions s
          join public.accounts a on a.id = s.account_id
         where s.channel_id = channel.id
    ), queued_jobs as (
        insert into public.jobs (user_id, account_id, kind, payload, idempotency_key,
                                 max_attempts, expires_at, signal_id, subscription_id)
        select j.user_id, j.account_id, 'signal',
               jsonb_strip_nulls(jsonb_build_object(
                   'action', v_action, 'symbol', j.venue_symbol,
                   'price', p_alert -> 'price', 'sl', p_alert -> 'sl', 'tp', p_alert -> 'tp',
                   'size', p_alert -> 'size', 'confidence', p_alert -> 'confidence',
                   'sizing', j.sizing, 'leverage', j.leverage, 'sl_pct', j.sl_pct,
                   'tp_pct', j.tp_pct, 'max_open_positions', j.max_open_positions)),
               'signal:' || v_signal_id || ':' || j.subscription_id,
               5, now() + make_interval(secs => p_ttl_s), v_signal_id, j.subscription_id
          from judged j
         where j.reason is null
        returning id, user_id, account_id, subscription_id, payload
    ), audited as (
        insert into public.audit_log (user_id, account_id, job_id, action, detail, actor, ip,
                                      user_agent)
        select q.user_id, q.account_id, q.id, 'trade.requested',
               jsonb_build_object('kind', 'signal', 'payload', q.payload,
                                  'signal_id', v_signal_id, 'subscription_id', q.subscription_id),
               o.actor, o.ip, o.user_agent
          from queued_jobs q cross join private.audit_origin() o
        returning 1
    ), skips as (
        insert into public.signal_skips (signal_id, subscription_id, user_id, account_id, reason)
        select v_signal_id, j.subscription_id, j.user_id, j.account_id, j.reason
          from judged j
         where j.reason is not null
        returning 1
    )
    select (select count(*) from audited), (select count(*) from skips)
      into v_queued, v_skipped;

    update public.signals s set queued = v_queued, skipped = v_skipped where s.id = v_signal_id;
    return query select 'accepted', v_queued, v_skipped, 0;
end;
$$;

revoke all on function private.create_signal_channel(text, boolean, bytea) from public, anon;
revoke all on function private.rotate_signal_secret(uuid, bytea) from public, anon;
revoke all on function private.subscribe(uuid, uuid, jsonb, jsonb, integer, numeric, numeric,
    numeric, integer, boolean) from public, anon;
revoke all on function private.same_digest(bytea, bytea) from public, anon, authenticated;
revoke all on function private.audit_origin() from public, anon, authenticated;
revoke all on function private.receive_signal(uuid, bytea, jsonb, bytea, integer, integer,
    integer) from public, anon, authenticated;
grant execute on function private.create_signal_channel(text, boolean, bytea) to authenticated;
grant execute on function private.rotate_signal_secret(uuid, bytea) to authenticated;
grant execute on function private.subscribe(uuid, uuid, jsonb, jsonb, integer, numeric, numeric,
    numeric, integer, boolean) to authenticated;
grant execute on function private.receive_signal(uuid, bytea, jsonb, bytea, integer, integer,
    integer) to switchyard_functions;
