"""The Sheets emulator for every test of the Sheets call log.

``sheets_emulator``: one emulator (a real HTTP server, in a thread) for the session, reset before each test,
so each test starts with no spreadsheets, no accounts, Google's default quotas and no faults. It is an
``EmulatorClient``: ``.url``, ``.new_account()``, ``.new_spreadsheet(shared_with)``, ``.faults(**kw)``,
``.quotas(**kw)``, ``.log()``, ``.values(id)``. ``google_sheets(emulator, key)`` builds the real
google-api-python-client against it, as production builds it against Google.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
from google.oauth2 import service_account
from googleapiclient.discovery import build

from sheets_sync.emulator import EmulatorClient, running_emulator

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]


@pytest.fixture(scope="session")
def sheets_emulator_server() -> Iterator[EmulatorClient]:
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def sheets_emulator(sheets_emulator_server: EmulatorClient) -> EmulatorClient:
    sheets_emulator_server.reset()
    return sheets_emulator_server


def google_sheets(emulator: EmulatorClient, key: dict[str, Any]) -> Any:
    """google-api-python-client's Sheets v4 service with service-account credentials; only the endpoint and
    the key's token_uri point at the emulator."""
    credentials = service_account.Credentials.from_service_account_info(key, scopes=SCOPES)
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=30))
    return build("sheets", "v4", http=http, static_discovery=True, cache_discovery=False,
                 client_options={"api_endpoint": emulator.url + "/"})
