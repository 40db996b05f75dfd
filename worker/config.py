"""The worker's configuration checks: everything that needs no database, done first.

`python -m worker` runs them before it starts an embedded Postgres or opens a
connection, so a missing key or an impossible lease fails at once with the variable's
name and leaves nothing behind; `Worker` runs the same checks when built directly.
"""

from __future__ import annotations

from switchyard.errors import ConfigError
from switchyard.settings import Settings, terminal_spec
from switchyard.vault import KeyRing, Vault
from worker.crashpoints import refuse_in_production
from worker.leases import SEND_MARGIN_S
from worker.venues.mt5.bridge import is_loopback


def check_api_urls(api_urls: dict[str, dict[str, str]]) -> None:
    """SWITCHYARD_EXCHANGE_API_URLS names exchanges we serve, each with every URL ccxt uses."""
    if not api_urls:
        return
    # Here, not at the top: ccxt takes seconds to import, and a worker without exchange
    # lanes never needs it.
    from worker.venues.exchange.exchanges import PROFILES

    known = {profile.ccxt_id: profile for profile in PROFILES.values()}
    for name, urls in api_urls.items():
        profile = known.get(name)
        if profile is None:
            raise ConfigError(
                f"SWITCHYARD_EXCHANGE_API_URLS names {name!r}; the exchanges are "
                f"{', '.join(sorted(known))}"
            )
        if set(urls) != profile.url_keys or not all(
            isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls.values()
        ):
            raise ConfigError(
                f"SWITCHYARD_EXCHANGE_API_URLS: {name} needs exactly the http(s) URLs "
                f"{', '.join(sorted(profile.url_keys))}"
            )


def check_configuration(settings: Settings) -> Vault:
    """Refuse what the worker cannot run safely with (ConfigError); the vault of the ring."""
    refuse_in_production(settings.environment)
    if settings.worker_heartbeat_s >= settings.worker_lease_s / 2:
        raise ConfigError(
            "SWITCHYARD_WORKER_HEARTBEAT_S must be under half of SWITCHYARD_WORKER_LEASE_S"
        )
    exchange_s = settings.exchange_call_timeout_s + 2 if settings.exchange_lanes else 0.0
    call_s = max(settings.mt5_call_timeout_s, exchange_s)
    needed_s = call_s + SEND_MARGIN_S + 2 * settings.worker_heartbeat_s
    if settings.worker_lease_s <= needed_s:
        raise ConfigError(
            f"SWITCHYARD_WORKER_LEASE_S must exceed {needed_s:g} s: a lease has to outlast "
            "one terminal or exchange call (SWITCHYARD_MT5_CALL_TIMEOUT_S, "
            "SWITCHYARD_EXCHANGE_CALL_TIMEOUT_S) plus two heartbeats"
        )
    check_api_urls(settings.exchange_api_urls)
    addresses = [terminal_spec(entry)[0] for entry in settings.mt5_terminals]
    exposed = [a for a in addresses if not is_loopback(a)]
    if exposed and not settings.mt5_private_network:
        raise ConfigError(
            f"SWITCHYARD_MT5_TERMINALS lists {', '.join(exposed)}, which is not a loopback "
            "address (127.0.0.0/8, ::1, localhost). An mt5linux bridge runs any code sent to "
            "its port, unauthenticated: reach remote terminals through an SSH or WireGuard "
            "tunnel on loopback, or set SWITCHYARD_MT5_PRIVATE_NETWORK=true if these "
            "addresses are on a private network that only the worker can reach."
        )
    keys = settings.encryption_keys.get_secret_value() if settings.encryption_keys else None
    return Vault(KeyRing.parse(keys))
