"""The admin route to a new user: add the user, pick the scopes, grant credits; the user then logs in
for a token. Driven through the admin's own forms as staff would."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from users.models import User
from users.selectors import credits_balance

pytestmark = pytest.mark.django_db


def test_staff_add_a_user_in_admin_choose_scopes_and_grant_credits_and_the_user_gets_a_token(admin_client):
    added = admin_client.post(reverse("admin:users_user_add"), {
        "username": "bob", "usable_password": "true", "password1": "a-long-pass-phrase", "password2":
        "a-long-pass-phrase",
    })
    assert added.status_code == 302, added.content.decode()[:2000]
    bob = User.objects.get(username="bob")

    change = reverse("admin:users_user_change", args=[bob.pk])
    page = admin_client.get(change)
    form = {name: value for name, value in page.context["adminform"].form.initial.items() if value is not None}
    form.update({"username": "bob", "scopes": '["calls:read", "credits:read"]', "plan": "standard",
                 "rate_limits": "{}", "date_joined_0": "2025-01-01", "date_joined_1": "00:00:00",
                 "is_active": "on"})
    form.pop("groups", None)
    form.pop("user_permissions", None)
    form.pop("last_login", None)
    saved = admin_client.post(change, form)
    assert saved.status_code == 302, saved.content.decode()[:3000]

    accounts = reverse("admin:users_creditaccount_changelist")
    account = bob.credit_account  # the account exists as soon as the user does, so staff can grant
    granted = admin_client.post(accounts, {"action": "grant_credits", "_selected_action": [str(account.pk)],
                                           "apply": "Grant", "amount": "700", "memo": "welcome"}, follow=True)
    assert granted.status_code == 200
    assert credits_balance(user=bob).available == 700

    login = APIClient().post("/api/v1/auth/token/", {"username": "bob", "password": "a-long-pass-phrase"},
                             format="json")
    assert login.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access']}")
    me = client.get("/api/v1/users/me/").json()
    assert me["token_scopes"] == ["calls:read", "credits:read"]
    assert client.get("/api/v1/credits/").json()["balance"]["available"] == 700
