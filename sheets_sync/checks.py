"""System checks (``manage.py check``, and at start-up of runserver and migrate) for the Sheets call log.

Each bad input gives one error naming what to fix: malformed or missing credentials (E001, E002), a bad
tab prefix (E003), a malformed operations spreadsheet id (E004), an operations spreadsheet Sheets does
not know or that is not shared with the service account (E005). Sheets being unreachable is a warning
(W001). None of them stops calls: their rows wait in the outbox until the configuration is fixed; the
admin page shows the same problems.
"""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.core import checks

from config.errors import DomainError
from sheets_sync import layout
from sheets_sync.accounts import CredentialsError, ServiceAccount, load_accounts
from sheets_sync.backoff import Backoff
from sheets_sync.errors import Permanent, SheetsError
from users.services import spreadsheet_id_parse

WAIT = "Calls keep working; their Sheets rows wait in the outbox until this is fixed."


def configuration_problems() -> tuple[list[checks.CheckMessage], list[ServiceAccount]]:
    """The problems found without asking Sheets, and the service accounts (none if malformed)."""
    found: list[checks.CheckMessage] = []
    accounts: list[ServiceAccount] = []
    try:
        accounts = load_accounts(settings.SHEETS_CREDENTIALS)
    except CredentialsError as exc:
        found.append(checks.Error(str(exc), hint=f"Give a service-account JSON key or its file path. {WAIT}",
                                  id="sheets_sync.E001"))
    operations = settings.SHEETS_OPERATIONS_SPREADSHEET_ID
    if not accounts and not found and operations:
        found.append(checks.Error(
            "SHEETS_CREDENTIALS is not set, but SHEETS_OPERATIONS_SPREADSHEET_ID is: nothing can be written.",
            hint=f"Set SHEETS_CREDENTIALS to a service-account key shared with the spreadsheet. {WAIT}",
            id="sheets_sync.E002"))
    if problem := layout.tab_prefix_problem(settings.SHEETS_TAB_PREFIX):
        found.append(checks.Error(f"SHEETS_TAB_PREFIX {settings.SHEETS_TAB_PREFIX!r} cannot name a sheet: {problem}.",
                                  hint=f"Use letters, digits, spaces and - _ . ( ). {WAIT}", id="sheets_sync.E003"))
    if operations:
        try:
            spreadsheet_id_parse(operations)
        except DomainError:
            found.append(checks.Error(
                f"SHEETS_OPERATIONS_SPREADSHEET_ID {operations!r} is not a spreadsheet id.",
                hint=f"Use the id from the sheet's address: docs.google.com/spreadsheets/d/<id>/edit. {WAIT}",
                id="sheets_sync.E004"))
    return found, accounts


def access_problem(spreadsheet_id: str) -> checks.CheckMessage | None:
    """Ask Sheets (1 read, no retries) whether the service account can use the spreadsheet."""
    from sheets_sync.client import sheets_client

    client = copy.copy(sheets_client())
    client.backoff, client.token_timeout = Backoff(max_retries=0), 5.0
    try:
        client.metadata(spreadsheet_id)
    except Permanent as exc:
        from sheets_sync.turns import permanent_message

        return checks.Error(permanent_message(spreadsheet_id, exc) + ".",
                            hint=f"Check SHEETS_OPERATIONS_SPREADSHEET_ID and the sheet's sharing. {WAIT}",
                            id="sheets_sync.E005")
    except SheetsError as exc:
        return checks.Warning(f"Sheets could not be asked about spreadsheet {spreadsheet_id}: {exc}",
                              hint="The drain tries again; the admin page shows the outcome.", id="sheets_sync.W001")
    return None


@checks.register("sheets")
def sheets_configuration(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    found, accounts = configuration_problems()
    operations = settings.SHEETS_OPERATIONS_SPREADSHEET_ID
    if accounts and operations and not found and (problem := access_problem(operations)):
        found.append(problem)
    return found
