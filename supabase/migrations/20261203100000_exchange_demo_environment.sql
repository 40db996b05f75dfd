-- Exchange accounts may be on an exchange's demo trading (Bybit demo trading, OKX's
-- simulated trading, Binance's demo) as well as its testnet or live venue.
alter table public.accounts drop constraint accounts_kind_matches_venue;
alter table public.accounts add constraint accounts_kind_matches_venue check (
    (kind = 'mt5' and venue = 'mt5' and server is not null
        and environment in ('demo', 'live') and api_key_masked is null)
    or (kind = 'exchange' and venue <> 'mt5' and server is null
        and environment in ('testnet', 'demo', 'live') and api_key_masked is not null)
);
