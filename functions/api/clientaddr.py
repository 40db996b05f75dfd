"""The client's address as this deployment can trust it, for the audit log.

X-Forwarded-For is a list that every proxy *appends* to, so its left end is whatever
the client wrote. Only the entries added by proxies we run can be trusted: with
`SWITCHYARD_TRUSTED_PROXY_HOPS = N` the client is the N-th entry from the right (the
address our outermost trusted proxy saw); with 0, or when the header has fewer than N
entries, it is the TCP peer. This is decided here, not by the ASGI host (uvicorn's
`proxy_headers`, a platform's own rewriting), so every host records the same address.

    peer 10.0.0.2, X-Forwarded-For: 6.6.6.6, 198.51.100.9     (one load balancer)
    N = 0 → 10.0.0.2    N = 1 → 198.51.100.9    never 6.6.6.6
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence


def parse_address(value: str | None) -> str | None:
    """An IP address in its canonical form, or None; ports (`1.2.3.4:80`, `[::1]:80`) dropped."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted_hops: int) -> str | None:
    """The address to record: see the module docstring. None when it is not an address."""
    if trusted_hops <= 0:
        return parse_address(peer)
    entries = [entry.strip() for header in forwarded_for for entry in header.split(",")]
    entries = [entry for entry in entries if entry]
    if len(entries) < trusted_hops:
        return parse_address(peer)
    return parse_address(entries[-trusted_hops])
