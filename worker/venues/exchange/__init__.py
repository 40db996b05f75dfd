"""Crypto exchanges (Binance, Bybit, OKX, Coinbase) through ccxt.async_support: the only
code of the product that imports ccxt.

    exchanges/   one module per exchange: its `Profile` (options, environments, URL keys,
                 client order id format, permissions, look-up by client id, error codes).
                 A new exchange is a new module there and its line in `PROFILES`.
    profile.py   what a profile holds          errors.py   ccxt's exceptions, as data
    loop.py      the one asyncio loop          clients.py  instances, markets, budgets, cache
    reports.py   ccxt's dicts as the seam's reports
    adapter.py   `ExchangeVenue` / `ExchangeSession`: `worker.venue`'s Protocols
    lane.py      the lanes that claim exchange jobs, and `Exchanges` (one per process)
"""
