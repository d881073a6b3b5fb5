"""Staff run calls in the Django admin: browse, search, inspect the provider's raw answer, and cancel or
refresh through the same services as every other interface."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from calls.models import Call, CallEvent, CallStatus
from tests.calls.conftest import BUSY, HUMAN, VOICEMAIL, bland_payload, queued_call, sim_details, sim_faults
from users.selectors import credits_balance

CHANGELIST = reverse("admin:calls_call_changelist")

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:  # noqa: ANN001
    return [str(m) for m in get_messages(response.wsgi_request)]


def _action(admin_client, action: str, calls: list[Call]):  # noqa: ANN001, ANN202
    return admin_client.post(CHANGELIST, {"action": action, "_selected_action": [str(c.pk) for c in calls]},
                             follow=True)


@pytest.fixture
def calls(user, make_user, calls_settings) -> dict[str, Call]:  # noqa: ANN001
    queued = queued_call(user, to_number=HUMAN, provider_call_id=None)
    ended = Call.objects.create(owner=user, to_number=VOICEMAIL, task="t", max_duration=5,
                                status=CallStatus.COMPLETED, answered_by="voicemail", duration_seconds=20,
                                cost_credits=5, provider_call_id="prov-ended",
                                provider_payload=bland_payload("prov-ended", answered_by="voicemail"))
    CallEvent.objects.create(call=ended, source="webhook", from_status="queued", to_status="completed",
                             detail="complete completed")
    other = queued_call(make_user("bob", credits=100), to_number=BUSY, provider_call_id="prov-bob")
    return {"queued": queued, "ended": ended, "other": other}


def test_changelist_lists_filters_and_searches_calls(admin_client, calls):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    page = response.content.decode()
    for call in calls.values():
        assert call.to_number in page
    assert "Cancel selected calls" in page
    assert "Refresh from provider" in page

    def shown(**query: str) -> set[str]:
        result = admin_client.get(CHANGELIST, query)
        assert result.status_code == 200
        return {str(c.pk) for c in result.context["cl"].result_list}

    assert shown(status__exact="completed") == {str(calls["ended"].pk)}
    assert shown(answered_by__exact="voicemail") == {str(calls["ended"].pk)}
    assert shown(provider__exact="bland") == {str(c.pk) for c in calls.values()}
    week_ago = str(timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=7))
    assert shown(created_at__gte=week_ago) == {str(c.pk) for c in calls.values()}  # "Past 7 days"
    assert shown(created_at__lt=week_ago) == set()
    assert shown(q="bob") == {str(calls["other"].pk)}
    assert shown(q="prov-ended") == {str(calls["ended"].pk)}
    assert shown(q=BUSY) == {str(calls["other"].pk)}
    assert shown(q=str(calls["queued"].pk)) == {str(calls["queued"].pk)}
    assert shown(q=str(calls["queued"].pk).upper()) == {str(calls["queued"].pk)}


def test_change_page_shows_the_events_and_the_raw_provider_payload_read_only(admin_client, calls):
    ended = calls["ended"]
    response = admin_client.get(reverse("admin:calls_call_change", args=[ended.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "complete completed" in page  # the CallEvent inline
    assert "&quot;answered_by&quot;: &quot;voicemail&quot;" in page  # pretty JSON, escaped
    assert "<pre" in page
    assert 'name="_save"' not in page  # view only: calls change through the services

    before = Call.objects.get(pk=ended.pk)
    admin_client.post(reverse("admin:calls_call_change", args=[ended.pk]), {"status": "failed", "cost_credits": 0})
    after = Call.objects.get(pk=ended.pk)
    assert (after.status, after.cost_credits, after.updated_at) == (before.status, before.cost_credits,
                                                                    before.updated_at)


def test_calls_cannot_be_added_or_deleted_in_the_admin(admin_client, calls):
    assert admin_client.get(reverse("admin:calls_call_add")).status_code == 403
    assert admin_client.get(reverse("admin:calls_call_delete", args=[calls["queued"].pk])).status_code == 403


def test_cancel_action_cancels_live_calls_releases_credits_and_reports_the_others(admin_client, user, calls):
    response = _action(admin_client, "cancel_calls", [calls["queued"], calls["ended"]])
    assert response.status_code == 200
    messages = _messages(response)
    assert any(str(calls["ended"].pk) in m and "already ended" in m for m in messages)
    assert "Cancelled 1 call(s)." in messages

    queued = Call.objects.get(pk=calls["queued"].pk)
    assert queued.status == CallStatus.CANCELED
    assert CallEvent.objects.get(call=queued, to_status=CallStatus.CANCELED).source == "admin"
    assert credits_balance(user=user).reserved == 0
    assert Call.objects.get(pk=calls["ended"].pk).status == CallStatus.COMPLETED


def test_refresh_action_applies_the_providers_state_and_reports_failures_per_call(admin_client, api, sim):
    placed = api.post("/api/v1/calls/", {"phone_number": HUMAN, "task": "Say hi.", "max_duration": 5},
                      format="json").json()
    call = Call.objects.get(pk=placed["call_id"])
    sim.advance(120)
    response = _action(admin_client, "refresh_calls", [call])
    assert "Refreshed 1 call(s)." in _messages(response)
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    assert call.provider_payload == sim_details(sim, call.provider_call_id)
    assert CallEvent.objects.get(call=call, to_status=CallStatus.COMPLETED).source == "admin"

    second = api.post("/api/v1/calls/", {"phone_number": VOICEMAIL, "task": "Say hi.", "max_duration": 5},
                      format="json").json()
    sim_faults(sim, outage=True)
    response = _action(admin_client, "refresh_calls", [Call.objects.get(pk=second["call_id"])])
    messages = _messages(response)
    assert any(second["call_id"] in m and "[provider_unavailable]" in m for m in messages)
    assert not any(m.startswith("Refreshed") for m in messages)


def test_call_events_are_read_only(admin_client, calls):
    event = CallEvent.objects.get(call=calls["ended"])
    listing = admin_client.get(reverse("admin:calls_callevent_changelist"), {"q": str(calls["ended"].pk)})
    assert listing.status_code == 200
    assert [e.pk for e in listing.context["cl"].result_list] == [event.pk]
    page = admin_client.get(reverse("admin:calls_callevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.get(reverse("admin:calls_callevent_add")).status_code == 403
    assert admin_client.get(reverse("admin:calls_callevent_delete", args=[event.pk])).status_code == 403


def test_the_admin_is_for_staff_only(client, user, calls):
    client.force_login(user)
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
