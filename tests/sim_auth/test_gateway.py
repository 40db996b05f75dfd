"""What comes before GoTrue on Supabase (the apikey, CORS) and GoTrue's two error shapes."""

from __future__ import annotations

import httpx
import pytest
from supabase import ClientOptions, create_client
from supabase_auth.errors import AuthApiError

from tests.sim_auth.helpers import OPEN_CLIENTS, PASSWORD, raw


def test_every_auth_request_needs_the_apikey(auth):
    base = f"{auth.supabase_url}/auth/v1"
    missing = httpx.post(f"{base}/signup", json={"email": "a@example.com", "password": PASSWORD})
    assert missing.status_code == 401
    assert missing.json() == {
        "message": "No API key found in request",
        "hint": "No `apikey` request header or url param was found.",
    }
    wrong = httpx.get(f"{base}/settings", headers={"apikey": "not-the-anon-key"})
    assert wrong.status_code == 401
    assert wrong.json()["message"] == "Invalid API key"
    as_query = httpx.get(f"{base}/settings", params={"apikey": auth.anon_key})
    assert as_query.status_code == 200
    assert as_query.json()["external"]["email"] is True
    assert as_query.json()["mailer_autoconfirm"] is True


def test_the_supabase_client_with_a_wrong_key_gets_the_gateways_refusal(auth):
    wrong = create_client(auth.supabase_url, "eyJ-wrong", ClientOptions(auto_refresh_token=False))
    OPEN_CLIENTS.append(wrong)
    with pytest.raises(AuthApiError) as refused:
        wrong.auth.sign_in_with_password({"email": "a@example.com", "password": PASSWORD})
    assert (refused.value.status, refused.value.message) == (401, "Invalid API key")


def test_a_cors_preflight_needs_no_apikey(auth):
    answer = httpx.options(
        f"{auth.supabase_url}/auth/v1/token",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "apikey, authorization, content-type",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"


def test_errors_have_the_2024_shape_when_the_client_asks_for_it(auth):
    with raw(auth) as http:
        answer = http.post(
            "/token",
            params={"grant_type": "password"},
            json={"email": "x@example.com", "password": "y"},
        )
    assert answer.status_code == 400
    assert answer.headers["X-Supabase-Api-Version"] == "2024-01-01"
    assert answer.headers["x-sb-error-code"] == "invalid_credentials"
    assert answer.json() == {"code": "invalid_credentials", "message": "Invalid login credentials"}


def test_errors_have_the_initial_shape_without_an_api_version(auth):
    with raw(auth, api_version=None) as http:
        answer = http.post(
            "/token",
            params={"grant_type": "password"},
            json={"email": "x@example.com", "password": "y"},
        )
    assert answer.status_code == 400
    assert "X-Supabase-Api-Version" not in answer.headers
    assert answer.json() == {
        "code": 400,
        "error_code": "invalid_credentials",
        "msg": "Invalid login credentials",
    }


def test_a_missing_refresh_token_is_an_oauth_error(auth):
    with raw(auth) as http:
        answer = http.post("/token", params={"grant_type": "refresh_token"}, json={})
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_request",
        "error_description": "refresh_token required",
    }


def test_a_body_that_is_not_json_is_bad_json(auth):
    with raw(auth) as http:
        answer = http.post("/signup", content=b"{not json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_json"


def test_an_unknown_grant_type_is_refused_as_gotrue_does(auth):
    with raw(auth) as http:
        answer = http.post("/token", params={"grant_type": "magic"}, json={})
    assert answer.status_code == 400
    assert answer.json() == {"code": "invalid_credentials", "message": "unsupported_grant_type"}


def test_a_protected_endpoint_without_a_bearer_token_is_no_authorization(auth):
    with raw(auth) as http:
        answer = http.get("/user")
    assert answer.status_code == 401
    assert answer.json() == {
        "code": "no_authorization",
        "message": "This endpoint requires a valid Bearer token",
    }
    with raw(auth) as http:
        anon = http.get("/user", headers={"Authorization": f"Bearer {auth.anon_key}"})
    assert anon.status_code == 403
    assert anon.json() == {"code": "bad_jwt", "message": "invalid claim: missing sub claim"}


def test_the_health_endpoint_names_gotrue(auth):
    with raw(auth) as http:
        assert http.get("/health").json()["name"] == "GoTrue"
