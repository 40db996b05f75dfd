"""The README's curl block of "Positions, history and P&L", run as written with bash and
curl against the functions served by uvicorn on a free port (in a thread of this process:
a separate process costs seconds more to start)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn

from functions.app import create_app
from switchyard.settings import Settings
from tests.functions.helpers import connected_account
from tests.helpers import REPO, free_port

pytestmark = pytest.mark.anyio


def readme_block() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### Positions, history and P&L", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "the section has no sh block"
    return found.group(1)


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="readme-functions", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it served"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def json_documents(text: str) -> list[object]:
    decoder, documents, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        document, at = decoder.raw_decode(text, at)
        documents.append(document)
    return documents


async def test_the_readme_curl_block_answers_positions_deals_pnl_and_equity(
    client, users, verdicts, db, api_settings
):
    # never skipped: .ci/run installs jq, as for the signals walk-through
    assert shutil.which("curl"), "the README's walk-through uses curl: apt-get install curl"
    assert shutil.which("jq"), "the README's walk-through uses jq: apt-get install jq"
    alice, _ = users
    account = await connected_account(client, verdicts, alice)
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    for deal_id, entry, side, profit, minute in (
        ("1", "in", "buy", "0", 0),
        ("2", "out", "sell", "8.25", 1),
    ):
        db.execute(
            "insert into public.deals (user_id, account_id, venue_deal_id, symbol, side, entry,"
            " volume, price, profit, commission, swap, executed_at)"
            " values (%s, %s, %s, 'EURUSD', %s, %s, 0.1, 1.1, %s, -0.35, 0, %s)",
            (alice.id, account["id"], deal_id, side, entry, profit, at + timedelta(minutes=minute)),
        )
    db.execute(
        "insert into public.positions (user_id, account_id, venue_position_id, symbol, side,"
        " volume, open_price, opened_at) values (%s, %s, '901', 'EURUSD', 'buy', 0.1, 1.1, %s)",
        (alice.id, account["id"], at),
    )
    with served(api_settings) as url:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", readme_block()],
            env={**os.environ, "API": url, "TOKEN": alice.token},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    positions, deals, pnl, equity = json_documents(done.stdout)
    assert [p["position"] for p in positions["items"]] == ["901"]
    assert [d["venue_deal_id"] for d in deals["items"]] == ["2", "1"]
    [day] = pnl["items"]
    assert (day["key"], day["realised"], day["fees"], day["trades"], day["wins"]) == (
        "2026-12-01",
        "8.25",
        "-0.70",
        1,
        1,
    )
    assert pnl["tz"] == "Europe/Berlin"
    assert equity["account_id"] == account["id"]
    assert [p["balance"] for p in equity["items"]] == ["10000.00"]  # the verification's
