"""The client ``sheets_client()`` builds from settings: credentials from SHEETS_CREDENTIALS (a key file path
or its content), SHEETS_API_ENDPOINT, the gate and breaker in Redis, or in this process without REDIS_URL."""

from __future__ import annotations

import json

import pytest

from sheets_sync.accounts import CredentialsError
from sheets_sync.breaker import RedisBreakerStore
from sheets_sync.client import Permanent, reset_sheets_client, sheets_client
from sheets_sync.quota import MemoryQuotaStore, RedisQuotaStore


@pytest.fixture
def fresh_client():
    reset_sheets_client()
    yield
    reset_sheets_client()


@pytest.mark.redis
def test_a_key_file_and_the_endpoint_from_settings_reach_the_spreadsheet(settings, sheets_emulator, tmp_path,
                                                                         fresh_sheets_state):
    key = sheets_emulator.new_account()
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key))
    spreadsheet = sheets_emulator.new_spreadsheet(shared_with=[key["client_email"]], sheets=["Calls"])
    settings.SHEETS_CREDENTIALS = str(path)
    settings.SHEETS_API_ENDPOINT = sheets_emulator.url
    client = sheets_client()
    assert client is sheets_client()  # one per process
    assert isinstance(client.gate._store, RedisQuotaStore)
    assert isinstance(client.breaker._store, RedisBreakerStore)
    assert client.append(spreadsheet, "Calls!A:B", [["c1", "queued"]]) == (1, 1)
    assert [entry["user"] for entry in sheets_emulator.log()] == [key["client_email"]]


def test_without_redis_the_embedded_mode_gates_in_this_process(settings, sheets_emulator, fresh_client):
    key = sheets_emulator.new_account()
    spreadsheet = sheets_emulator.new_spreadsheet(shared_with="*")
    settings.REDIS_URL = ""
    settings.SHEETS_CREDENTIALS = json.dumps(key)
    settings.SHEETS_API_ENDPOINT = sheets_emulator.url
    client = sheets_client()
    assert isinstance(client.gate._store, MemoryQuotaStore)
    assert client.metadata(spreadsheet)["sheets"][0]["title"] == "Sheet1"


def test_no_credentials_means_sync_is_off_with_a_clear_error(settings, fresh_client):
    settings.SHEETS_CREDENTIALS = ""
    client = sheets_client()
    assert not client.enabled
    with pytest.raises(Permanent) as caught:
        client.get_values("s1", "A1")
    assert caught.value.code == "not_configured"
    assert "SHEETS_CREDENTIALS" in str(caught.value)


def test_malformed_credentials_stop_the_client_naming_the_variable(settings, fresh_client):
    settings.SHEETS_CREDENTIALS = '{"client_email": "x"'
    with pytest.raises(CredentialsError, match="SHEETS_CREDENTIALS"):
        sheets_client()
