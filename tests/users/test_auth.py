from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from users.services import token_for_user


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_password_login_gives_tokens_that_carry_the_users_scopes(anon, user):
    response = anon.post("/api/v1/auth/token/", {"username": "alice", "password": "s3cret-pass-word"}, format="json")
    assert response.status_code == 200
    claims = AccessToken(response.json()["access"])
    assert set(claims["scope"].split()) == {"calls:read", "calls:write", "credits:read"}
    me = bearer(response.json()["access"]).get("/api/v1/users/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "alice"


def test_refresh_keeps_scopes_and_verify_accepts_the_token(anon, user):
    pair = anon.post("/api/v1/auth/token/", {"username": "alice", "password": "s3cret-pass-word"}, format="json").json()
    refreshed = anon.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert refreshed.status_code == 200
    assert "credits:read" in AccessToken(refreshed.json()["access"])["scope"]
    assert anon.post("/api/v1/auth/token/verify/", {"token": pair["access"]}, format="json").status_code == 200


def test_wrong_password_is_401_with_a_json_reason(anon, user):
    response = anon.post("/api/v1/auth/token/", {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "no_active_account"


def test_malformed_login_body_is_400_naming_the_field(anon, user):
    response = anon.post("/api/v1/auth/token/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    response = anon.post("/api/v1/auth/token/", {"username": "alice"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("password")


def test_missing_token_is_401_with_www_authenticate(anon, user):
    response = anon.get("/api/v1/users/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "not_authenticated"


def test_expired_token_is_401(user):
    token = token_for_user(user=user, lifetime=timedelta(seconds=-5))
    response = bearer(token).get("/api/v1/users/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


def test_tampered_token_is_401(token):
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    response = bearer(tampered).get("/api/v1/users/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


def test_token_without_credits_scope_gets_403_insufficient_scope(user):
    token = token_for_user(user=user, scopes=["calls:read"])
    response = bearer(token).get("/api/v1/credits/")
    assert response.status_code == 403
    body = response.json()
    assert body["error"]["code"] == "insufficient_scope"
    assert "credits:read" in body["error"]["message"]


def test_scope_taken_from_user_is_taken_from_existing_tokens(user, token):
    assert bearer(token).get("/api/v1/credits/").status_code == 200
    user.scopes = ["calls:read"]
    user.save(update_fields=["scopes"])
    assert bearer(token).get("/api/v1/credits/").status_code == 403


def test_issue_token_command_mints_a_long_lived_scoped_token(user, capsys):
    call_command("issue_token", "alice", "--scopes", "calls:read", "--days", "30")
    token = capsys.readouterr().out.strip()
    claims = AccessToken(token)
    assert claims["scope"] == "calls:read"
    assert claims["exp"] - claims["iat"] == 30 * 24 * 3600
    assert bearer(token).get("/api/v1/users/me/").json()["token_scopes"] == ["calls:read"]


def test_issue_token_refuses_unknown_user_and_scopes(user):
    with pytest.raises(CommandError, match="No active user"):
        call_command("issue_token", "nobody")
    with pytest.raises(CommandError, match="admin:all"):
        call_command("issue_token", "alice", "--scopes", "admin:all")


def test_unknown_api_path_is_json_404(api):
    response = api.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
