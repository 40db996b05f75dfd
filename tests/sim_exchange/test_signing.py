"""Hand-signed requests: the simulator checks each venue's signature over the request as
received (order, encoding, path, body) and its timestamp window, not what ccxt happens to send."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from tests.sim_exchange.helpers import KEYS


def _hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- Binance: hex HMAC over query string + form body, signature left out ------------------
BINANCE = KEYS["binance"]


def _binance(sim, method: str, path: str, query: str, body: str = "", signed: str | None = None):
    signature = _hex(BINANCE["api_secret"], query + body if signed is None else signed)
    url = f"{sim.url}/binance{path}?{query}&signature={signature}"
    headers = {"X-MBX-APIKEY": BINANCE["api_key"]}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return httpx.request(method, url, content=body, headers=headers, timeout=5)


def test_binance_accepts_a_signature_over_query_and_body_concatenated(sim):
    query = f"symbol=BTCUSDT&side=BUY&type=MARKET&timestamp={_now_ms()}"
    answer = _binance(sim, "POST", "/api/v3/order", query, "quantity=0.01&newOrderRespType=ACK")
    assert answer.status_code == 200, answer.text
    assert answer.json()["symbol"] == "BTCUSDT"


def test_binance_refuses_a_signature_over_the_parameters_in_another_order(sim):
    now = _now_ms()
    query = f"timestamp={now}&recvWindow=5000"
    answer = _binance(
        sim, "GET", "/api/v3/account", query, signed=f"recvWindow=5000&timestamp={now}"
    )
    assert answer.status_code == 400
    assert answer.json() == {"code": -1022, "msg": "Signature for this request is not valid."}


@pytest.mark.parametrize(
    ("offset_ms", "window", "code"),
    [(2_000, 5000, -1021), (-6_000, 5000, -1021), (-6_000, 10000, None), (0, 70000, -1131)],
)
def test_binance_timestamp_window(sim, offset_ms, window, code):
    query = f"timestamp={_now_ms() + offset_ms}&recvWindow={window}"
    answer = _binance(sim, "GET", "/api/v3/account", query)
    if code is None:
        assert answer.status_code == 200
    else:
        assert answer.status_code == 400
        assert answer.json()["code"] == code


def test_binance_unsigned_private_call_is_refused(sim):
    answer = httpx.get(
        f"{sim.url}/binance/api/v3/account?timestamp={_now_ms()}",
        headers={"X-MBX-APIKEY": BINANCE["api_key"]},
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == -1102


# -- Bybit: hex HMAC over timestamp + key + recv window + raw query or raw body -------------
BYBIT = KEYS["bybit"]


def _bybit(
    sim, method: str, path: str, payload: str, signed: str | None = None, ts: int | None = None
):
    stamp = str(ts if ts is not None else _now_ms())
    origin = stamp + BYBIT["api_key"] + "5000" + (payload if signed is None else signed)
    headers = {
        "X-BAPI-API-KEY": BYBIT["api_key"],
        "X-BAPI-TIMESTAMP": stamp,
        "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": _hex(BYBIT["api_secret"], origin),
        "Content-Type": "application/json",
    }
    if method == "GET":
        return httpx.get(f"{sim.url}/bybit{path}?{payload}", headers=headers, timeout=5)
    return httpx.post(f"{sim.url}/bybit{path}", content=payload, headers=headers, timeout=5)


def test_bybit_signs_the_raw_query_string(sim):
    answer = _bybit(sim, "GET", "/v5/account/wallet-balance", "accountType=UNIFIED&coin=USDT")
    assert answer.json()["retCode"] == 0
    swapped = _bybit(
        sim,
        "GET",
        "/v5/account/wallet-balance",
        "accountType=UNIFIED&coin=USDT",
        signed="coin=USDT&accountType=UNIFIED",
    )
    assert swapped.json()["retCode"] == 10004


def test_bybit_signs_the_raw_body_byte_for_byte(sim):
    body = '{ "category": "spot",  "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "50", "marketUnit": "quoteCoin" }'
    answer = _bybit(sim, "POST", "/v5/order/create", body)
    assert answer.json()["retCode"] == 0, answer.text
    compact = json.dumps(json.loads(body), separators=(",", ":"))
    refused = _bybit(sim, "POST", "/v5/order/create", body, signed=compact)
    assert refused.json()["retCode"] == 10004


def test_bybit_refuses_a_timestamp_outside_the_recv_window(sim):
    answer = _bybit(sim, "GET", "/v5/account/info", "", ts=_now_ms() - 6000)
    assert answer.json()["retCode"] == 10002


# -- OKX: base64 HMAC over timestamp + METHOD + /api/v5 path (+ ?query) + body ------------
OKX = KEYS["okx"]


def _okx(
    sim,
    method: str,
    path: str,
    query: str = "",
    body: str = "",
    signed_path: str | None = None,
    age_ms: int = 0,
):
    stamp = datetime.fromtimestamp((_now_ms() - age_ms) / 1000, UTC).isoformat(
        timespec="milliseconds"
    )
    stamp = stamp.replace("+00:00", "Z")
    target = (signed_path or path) + (f"?{query}" if query else "")
    digest = hmac.new(
        OKX["api_secret"].encode(), (stamp + method + target + body).encode(), hashlib.sha256
    )
    headers = {
        "OK-ACCESS-KEY": OKX["api_key"],
        "OK-ACCESS-PASSPHRASE": OKX["passphrase"],
        "OK-ACCESS-TIMESTAMP": stamp,
        "OK-ACCESS-SIGN": base64.b64encode(digest.digest()).decode(),
        "x-simulated-trading": "1",
        "Content-Type": "application/json",
    }
    url = f"{sim.url}/okx{path}" + (f"?{query}" if query else "")
    return httpx.request(method, url, content=body, headers=headers, timeout=5)


def test_okx_signs_the_api_path_with_its_query(sim):
    answer = _okx(sim, "GET", "/api/v5/account/balance", "ccy=USDT")
    assert answer.status_code == 200
    assert answer.json()["data"][0]["details"][0]["ccy"] == "USDT"
    without_query = _okx(
        sim,
        "GET",
        "/api/v5/account/balance",
        "ccy=USDT",
        signed_path="/api/v5/account/balance?ccy=BTC",
    )
    assert without_query.status_code == 401
    assert without_query.json()["code"] == "50113"


def test_okx_does_not_sign_the_simulators_prefix(sim):
    answer = _okx(sim, "GET", "/api/v5/account/config", signed_path="/okx/api/v5/account/config")
    assert answer.status_code == 401
    assert answer.json() == {"msg": "Invalid Sign", "code": "50113"}


def test_okx_signs_the_body(sim):
    body = json.dumps({"instId": "BTC-USDT-SWAP", "lever": "3", "mgnMode": "cross"})
    assert _okx(sim, "POST", "/api/v5/account/set-leverage", body=body).json()["code"] == "0"


def test_okx_refuses_a_timestamp_older_than_30_seconds(sim):
    answer = _okx(sim, "GET", "/api/v5/account/config", age_ms=31_000)
    assert answer.status_code == 401
    assert answer.json()["code"] == "50102"
