"""The management commands a new user runs: ``seed_demo`` (what ``make run`` calls) and ``create_user``."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from users.models import User
from users.selectors import credits_balance
from users.services import credits_reserve

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def password_in(output: str) -> str:
    match = re.search(r"password: (\S+)", output)
    assert match, output
    return match.group(1).rstrip(")")


def token_in(output: str) -> str:
    return output.strip().splitlines()[-1]


def client_for(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- seed_demo (make run) -------------------------------------------------------------------------


def test_a_second_seed_demo_says_the_user_exists_its_password_is_unchanged_and_how_to_reset_it():
    first = run("seed_demo")
    password = password_in(first)
    assert "created" in first

    second = run("seed_demo")
    assert "password" in second
    assert password not in second
    assert 'Demo user "demo" already exists; its password is unchanged.' in second
    assert "manage.py seed_demo --reset-password" in second
    assert authenticate(username="demo", password=password) is not None


def test_seed_demo_reset_password_prints_a_new_password_that_works():
    old = password_in(run("seed_demo"))
    reset = run("seed_demo", "--reset-password")
    new = password_in(reset)
    assert new != old
    assert "password was reset" in reset
    assert authenticate(username="demo", password=new) is not None
    assert authenticate(username="demo", password=old) is None


def test_seed_demo_says_when_it_tops_the_account_up_and_when_it_does_not():
    assert "Credits: granted 10000; 10000 available." in run("seed_demo")
    demo = User.objects.get(username="demo")

    assert "Credits: 10000 available (the demo's 10000; no top-up)." in run("seed_demo")

    credits_reserve(user=demo, amount=300, reference="call:spent")
    topped = run("seed_demo")
    assert "Credits: topped up by 300 to 10000 available (300 reserved)" in topped
    assert "--credits" in topped  # how to choose another amount
    assert credits_balance(user=demo).available == 10_000


def test_seed_demo_token_works_for_the_demo_user():
    token = token_in(run("seed_demo"))
    me = client_for(token).get("/api/v1/users/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "demo"


# --- create_user ----------------------------------------------------------------------------------


def test_create_user_makes_a_user_with_scopes_and_credits_and_prints_a_working_token():
    output = run("create_user", "bob", "--scopes", "calls:read", "credits:read", "--credits", "2500",
                 "--email", "bob@example.com")
    assert 'User "bob" created with scopes calls:read credits:read and 2500 credits.' in output
    password = password_in(output)
    client = client_for(token_in(output))

    me = client.get("/api/v1/users/me/").json()
    assert (me["username"], me["email"], me["scopes"], me["token_scopes"]) == (
        "bob", "bob@example.com", ["calls:read", "credits:read"], ["calls:read", "credits:read"])
    assert client.get("/api/v1/credits/").json()["balance"] == {"available": 2500, "reserved": 0, "total": 2500}
    placed = client.post("/api/v1/calls/", {"phone_number": "+12125550100", "task": "hi"}, format="json")
    assert placed.status_code == 403  # no calls:write
    login = APIClient().post("/api/v1/auth/token/", {"username": "bob", "password": password}, format="json")
    assert login.status_code == 200
    bob = User.objects.get(username="bob")
    assert not bob.is_staff
    assert run("issue_token", "bob").strip()  # issue_token knows bob now


def test_create_user_defaults_to_every_scope_no_credits_and_can_print_only_the_token():
    token = run("create_user", "carol", "--token-only").strip()
    assert "\n" not in token
    me = client_for(token).get("/api/v1/users/me/").json()
    assert me["scopes"] == ["calls:read", "calls:write", "credits:read"]
    assert credits_balance(user=User.objects.get(username="carol")).available == 0


def test_create_user_staff_can_log_in_to_admin():
    password = password_in(run("create_user", "dave", "--staff"))
    client = APIClient()
    assert client.login(username="dave", password=password)
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["alice"], 'A user named "alice" already exists'),
        (["erin", "--scopes", "calls:read", "calls:delete"], "Unknown or not permitted scopes: calls:delete."),
        (["bad name!"], "Enter a valid username"),
        (["frank", "--credits", "-5"], "--credits must be zero or more"),
        (["grace", "--days", "0"], "--days must be positive"),
    ],
)
def test_create_user_refuses_bad_input_saying_why_and_creates_nothing(user, args, message):
    before = User.objects.count()
    with pytest.raises(CommandError, match=re.escape(message)):
        run("create_user", *args)
    assert User.objects.count() == before


def test_issue_token_for_an_unknown_user_points_to_create_user():
    with pytest.raises(CommandError, match=re.escape("manage.py create_user bob")):
        run("issue_token", "bob")
