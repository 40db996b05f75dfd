"""No credential in an access log: `switchyard functions` under a real uvicorn, on a free port.

A token in a query string is refused (the API reads tokens only from `Authorization`),
but uvicorn's access log writes every request target as it came. The server runs as a
separate process exactly as deployed (`make_server`), and its whole output is read back.
"""

from __future__ import annotations

import httpx
import pytest

from functions.api.accesslog import REDACTED, redact_target


def test_tokens_in_query_strings_are_refused_and_never_logged(make_server, make_user):
    served = make_server()
    alice = make_user("alice@example.com")
    secrets = [alice.token, *(f"s3cr3t-value-{i}" for i in range(1, 7))]
    targets = [
        f"/v1/accounts?access_token={secrets[0]}",
        f"/v1/accounts?limit=5&token={secrets[1]}",
        f"/v1/trades?status=queued&%61ccess_token={secrets[2]}",
        f"/v1/accounts?APIKEY={secrets[3]}",
        f"/v1/accounts?api-key={secrets[4]}&refresh_token={secrets[5]}",
        f"/v1/accounts?token[]={secrets[6]}",
    ]
    with httpx.Client(base_url=served.url) as http:
        answers = [http.get(target) for target in targets]
    assert all(answer.status_code == 401 for answer in answers), [a.text for a in answers]
    output = served.stop()
    leaked = [i for i, secret in enumerate(secrets) if secret in output]
    assert not leaked, f"the credentials number {leaked} reached the log"
    lines = [line for line in output.splitlines() if '"GET /v1/' in line]
    assert len(lines) == len(targets), output
    assert output.count(REDACTED) == 7
    assert '"GET /v1/accounts?access_token=[redacted] HTTP/1.1" 401' in output
    # what is not a credential is still there to debug with
    assert "limit=5&token=[redacted]" in output
    assert "status=queued&%61ccess_token=[redacted]" in output


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/healthz", "/healthz"),
        ("/v1/trades?limit=5", "/v1/trades?limit=5"),
        ("/x?token=a&b=1", "/x?token=[redacted]&b=1"),
        ("/x?b=1;apikey=a", "/x?b=1;apikey=[redacted]"),
        ("/x?token", "/x?token=[redacted]"),
        ("/x?Access-Token=a=b", "/x?Access-Token=[redacted]"),
        ("/x?tokens=a", "/x?tokens=a"),
    ],
)
def test_redaction_rewrites_only_credential_parameters(target, expected):
    assert redact_target(target) == expected
