"""The Sheets emulator through the real google-api-python-client (service-account credentials, token from the
emulator's /token): what Sheets answers, in Google's shapes."""

from __future__ import annotations

import json

import httpx
import pytest
from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError

from tests.sheets.conftest import google_sheets


@pytest.fixture
def key(sheets_emulator):  # noqa: ANN001, ANN201
    return sheets_emulator.new_account()


@pytest.fixture
def sheet_id(sheets_emulator, key):  # noqa: ANN001, ANN201
    return sheets_emulator.new_spreadsheet(shared_with=[key["client_email"]], sheets=["Calls"])


@pytest.fixture
def sheets(sheets_emulator, key):  # noqa: ANN001, ANN201
    return google_sheets(sheets_emulator, key)


def _append(sheets, sheet_id, rows, range_="Calls!A:C"):  # noqa: ANN001, ANN202
    return sheets.spreadsheets().values().append(
        spreadsheetId=sheet_id, range=range_, valueInputOption="RAW", insertDataOption="INSERT_ROWS",
        body={"values": rows}).execute()


def _error(exc_info) -> dict:  # noqa: ANN001
    return json.loads(exc_info.value.content)["error"]


def test_append_answers_the_rows_it_wrote(sheets, sheet_id, sheets_emulator) -> None:  # noqa: ANN001
    first = _append(sheets, sheet_id, [["call_id", "status", "cost"]])
    assert first["updates"]["updatedRange"] == "Calls!A1:C1"
    second = _append(sheets, sheet_id, [["c-1", "queued", 0], ["c-2", "completed", 1.5]])
    assert second["updates"]["updatedRange"] == "Calls!A2:C3"
    assert second["updates"]["updatedRows"] == 2
    assert second["tableRange"] == "Calls!A1:C1"
    assert sheets_emulator.values(sheet_id)["Calls"] == [["call_id", "status", "cost"], ["c-1", "queued", 0],
                                                          ["c-2", "completed", 1.5]]


def test_batch_update_and_batch_get(sheets, sheet_id) -> None:  # noqa: ANN001
    _append(sheets, sheet_id, [["id", "status"], ["c-1", "queued"], ["c-2", "queued"]])
    result = sheets.spreadsheets().values().batchUpdate(spreadsheetId=sheet_id, body={
        "valueInputOption": "RAW",
        "data": [{"range": "Calls!A2:B2", "values": [["c-1", "completed"]]},
                 {"range": "Calls!B3", "values": [["failed"]]}]}).execute()
    assert result["totalUpdatedCells"] == 3
    assert [r["updatedRange"] for r in result["responses"]] == ["Calls!A2:B2", "Calls!B3"]
    got = sheets.spreadsheets().values().batchGet(spreadsheetId=sheet_id, ranges=["Calls!A:A", "Calls!B2:B3"]).execute()
    assert [r.get("values") for r in got["valueRanges"]] == [[["id"], ["c-1"], ["c-2"]], [["completed"], ["failed"]]]
    assert got["valueRanges"][0]["range"] == "Calls!A1:A1003"  # 1,000 rows + 3 inserted


def test_add_sheet_and_metadata(sheets, sheet_id) -> None:  # noqa: ANN001
    reply = sheets.spreadsheets().batchUpdate(spreadsheetId=sheet_id, body={"requests": [
        {"addSheet": {"properties": {"title": "Calls 2026-12", "gridProperties": {"rowCount": 10, "columnCount": 5}}}}
    ]}).execute()
    assert reply["replies"][0]["addSheet"]["properties"]["title"] == "Calls 2026-12"
    _append(sheets, sheet_id, [["x"]], range_="'Calls 2026-12'!A:E")
    meta = sheets.spreadsheets().get(spreadsheetId=sheet_id).execute()
    tabs = {s["properties"]["title"]: s["properties"]["gridProperties"] for s in meta["sheets"]}
    assert tabs["Calls 2026-12"] == {"rowCount": 11, "columnCount": 5}  # INSERT_ROWS grew the grid by one row
    with pytest.raises(HttpError) as exc_info:
        sheets.spreadsheets().batchUpdate(spreadsheetId=sheet_id, body={"requests": [
            {"addSheet": {"properties": {"title": "New"}}},
            {"addSheet": {"properties": {"title": "Calls"}}}]}).execute()
    assert exc_info.value.resp.status == 400
    assert "already exists" in _error(exc_info)["message"]
    titles = [s["properties"]["title"] for s in sheets.spreadsheets().get(spreadsheetId=sheet_id).execute()["sheets"]]
    assert "New" not in titles  # atomic: the valid sub-request was not applied either


def test_error_shapes_404_403_400(sheets, sheets_emulator, key) -> None:  # noqa: ANN001
    with pytest.raises(HttpError) as exc_info:
        sheets.spreadsheets().values().get(spreadsheetId="no-such-sheet", range="Calls!A1").execute()
    assert exc_info.value.resp.status == 404
    assert _error(exc_info)["status"] == "NOT_FOUND"
    unshared = sheets_emulator.new_spreadsheet(shared_with=["someone-else@example.com"])
    with pytest.raises(HttpError) as exc_info:
        sheets.spreadsheets().values().get(spreadsheetId=unshared, range="Sheet1!A1").execute()
    assert exc_info.value.resp.status == 403
    assert _error(exc_info)["status"] == "PERMISSION_DENIED"
    mine = sheets_emulator.new_spreadsheet(shared_with=[key["client_email"]])
    with pytest.raises(HttpError) as exc_info:
        sheets.spreadsheets().values().get(spreadsheetId=mine, range="Nope!A1").execute()
    assert exc_info.value.resp.status == 400
    assert _error(exc_info) == {"code": 400, "message": "Unable to parse range: Nope!A1",
                                "status": "INVALID_ARGUMENT"}
    with pytest.raises(HttpError) as exc_info:
        sheets.spreadsheets().values().update(spreadsheetId=mine, range="Sheet1!A1001", valueInputOption="RAW",
                                              body={"values": [["x"]]}).execute()
    assert "exceeds grid limits" in _error(exc_info)["message"]


def test_quota_429_with_error_info_at_the_configured_limit(sheets, sheet_id, sheets_emulator, key) -> None:  # noqa: ANN001
    sheets_emulator.quotas(writes_per_user=3)
    for n in range(3):
        _append(sheets, sheet_id, [[f"c-{n}"]])
    with pytest.raises(HttpError) as exc_info:
        _append(sheets, sheet_id, [["c-over"]])
    error = exc_info.value
    assert error.resp.status == 429
    assert _error(exc_info)["status"] == "RESOURCE_EXHAUSTED"
    info = error.error_details[0]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert info["metadata"]["quota_limit"] == "WriteRequestsPerMinutePerUser"
    assert info["metadata"]["quota_limit_value"] == "3"
    # reads are counted apart: still allowed
    assert sheets.spreadsheets().values().get(spreadsheetId=sheet_id, range="Calls!A:A").execute()["values"]
    # a second account of the same project meets the project limit
    sheets_emulator.quotas(writes_per_user=100, writes_per_project=4)
    other = sheets_emulator.new_account(project_id=key["project_id"])
    sheets_emulator.new_spreadsheet(shared_with="*", spreadsheet_id="shared")
    other_sheets = google_sheets(sheets_emulator, other)
    _append(other_sheets, "shared", [["one"]], range_="Sheet1!A:A")
    with pytest.raises(HttpError) as exc_info:
        _append(other_sheets, "shared", [["two"]], range_="Sheet1!A:A")
    assert exc_info.value.error_details[0]["metadata"]["quota_limit"] == "WriteRequestsPerMinutePerProject"
    assert exc_info.value.error_details[0]["metadata"]["quota_limit_value"] == "4"
    statuses = [(entry["kind"], entry["status"]) for entry in sheets_emulator.log()]
    assert statuses.count(("write", 429)) == 2
    assert sum(1 for kind, status in statuses if kind == "write" and status == 200) == 4


def test_ambiguous_failure_applies_the_write(sheets, sheet_id, sheets_emulator) -> None:  # noqa: ANN001
    sheets_emulator.faults(ambiguous_rate=1.0)
    with pytest.raises(HttpError) as exc_info:
        _append(sheets, sheet_id, [["c-1", "queued"]])
    assert exc_info.value.resp.status == 500
    assert sheets_emulator.values(sheet_id)["Calls"] == [["c-1", "queued"]]
    sheets_emulator.faults(ambiguous_rate=0.0)
    assert _append(sheets, sheet_id, [["c-2", "queued"]])["updates"]["updatedRange"] == "Calls!A2:B2"


def test_faults_outage_and_error_rate(sheets, sheet_id, sheets_emulator) -> None:  # noqa: ANN001
    sheets_emulator.faults(outage=True)
    with pytest.raises(HttpError) as exc_info:
        sheets.spreadsheets().get(spreadsheetId=sheet_id).execute()
    assert exc_info.value.resp.status == 503
    sheets_emulator.faults(outage=False, error_rate=1.0, error_statuses=[500])
    with pytest.raises(HttpError) as exc_info:
        _append(sheets, sheet_id, [["c-1"]])
    assert exc_info.value.resp.status == 500
    assert sheets_emulator.values(sheet_id)["Calls"] == []  # an injected error happens before the write
    sheets_emulator.faults(error_rate=0.0)
    _append(sheets, sheet_id, [["c-1"]])
    assert [entry["status"] for entry in sheets_emulator.log()] == [503, 500, 200]


def test_token_endpoint_rejects_a_bad_signature(sheets_emulator, sheet_id, key) -> None:  # noqa: ANN001
    forged = dict(key, private_key=sheets_emulator.new_account()["private_key"])  # the right email, a wrong key
    with pytest.raises(RefreshError) as exc_info:
        google_sheets(sheets_emulator, forged).spreadsheets().get(spreadsheetId=sheet_id).execute()
    assert "Invalid JWT Signature" in str(exc_info.value)
    unknown = dict(key, client_email="nobody@callmcp-emulator.iam.gserviceaccount.com")
    with pytest.raises(RefreshError):
        google_sheets(sheets_emulator, unknown).spreadsheets().get(spreadsheetId=sheet_id).execute()
    response = httpx.get(f"{sheets_emulator.url}/v4/spreadsheets/{sheet_id}", headers={"Authorization": "Bearer x"})
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"


def test_page_shows_every_sheet(sheets, sheet_id, sheets_emulator) -> None:  # noqa: ANN001
    _append(sheets, sheet_id, [["call_id", "status"], ["c-1", "<completed>"]])
    page = httpx.get(sheets_emulator.url + "/").text
    assert "<table>" in page
    assert "c-1" in page
    assert "&lt;completed&gt;" in page


def test_a_spreadsheet_seeded_through_the_control_api(sheets, sheets_emulator, key) -> None:  # noqa: ANN001
    seeded = sheets_emulator.new_spreadsheet(shared_with=[key["client_email"]], values={"Calls": [["id", "status"]]})
    assert _append(sheets, seeded, [["c-1", "ok"]])["updates"]["updatedRange"] == "Calls!A2:B2"
    meta = sheets.spreadsheets().get(spreadsheetId=seeded).execute()
    assert [s["properties"]["title"] for s in meta["sheets"]] == ["Calls"]


def _cells(*values) -> dict:  # noqa: ANN002
    kinds = {str: "stringValue", int: "numberValue", float: "numberValue", bool: "boolValue"}
    return {"values": [{"userEnteredValue": {kinds[type(v)]: v}} if v != "" else {} for v in values]}


def test_cell_requests_update_and_append_in_one_batch_and_answer_the_rows(sheets, sheet_id,  # noqa: ANN001
                                                                          sheets_emulator) -> None:
    _append(sheets, sheet_id, [["id", "status"], ["c-1", "queued"], ["c-2", "queued"]])
    sheet = sheets.spreadsheets().get(spreadsheetId=sheet_id).execute()["sheets"][0]["properties"]["sheetId"]
    result = sheets.spreadsheets().batchUpdate(spreadsheetId=sheet_id, body={
        "requests": [
            {"updateCells": {"start": {"sheetId": sheet, "rowIndex": 1, "columnIndex": 0},
                             "rows": [_cells("c-1", "completed")], "fields": "userEnteredValue"}},
            {"appendCells": {"sheetId": sheet, "rows": [_cells("c-3", 7), _cells("c-4", "")],
                             "fields": "userEnteredValue"}},
        ],
        "includeSpreadsheetInResponse": True, "responseRanges": ["Calls!A3:A"], "responseIncludeGridData": True,
    }).execute()
    assert result["replies"] == [{}, {}]
    (grid,) = result["updatedSpreadsheet"]["sheets"][0]["data"]
    assert grid["startRow"] == 2  # zero-based: row 3
    assert [row["values"][0]["formattedValue"] for row in grid["rowData"]] == ["c-2", "c-3", "c-4"]
    assert sheets_emulator.values(sheet_id)["Calls"] == [["id", "status"], ["c-1", "completed"], ["c-2", "queued"],
                                                          ["c-3", 7], ["c-4", ""]]


@pytest.mark.parametrize(("request_", "problem"), [
    ({"appendCells": {"sheetId": 999, "rows": [], "fields": "userEnteredValue"}}, "No grid with id: 999"),
    ({"appendCells": {"sheetId": 0, "rows": [{"values": [{"userEnteredValue": {"formulaValue": "=1"}}]}],
                      "fields": "userEnteredValue"}}, "formulaValue"),
    ({"updateCells": {"start": {"sheetId": 0, "rowIndex": 5000}, "rows": [{"values": [{}]}],
                      "fields": "userEnteredValue"}}, "past the grid"),
    ({"updateCells": {"start": {"sheetId": 0}, "rows": [{"values": [{}]}]}}, "'fields' is empty"),
])
def test_a_bad_cell_request_fails_the_whole_batch_and_writes_nothing(sheets, sheet_id, sheets_emulator,  # noqa: ANN001
                                                                     request_, problem) -> None:
    _append(sheets, sheet_id, [["id"], ["c-1"]])
    before = sheets_emulator.values(sheet_id)
    good = {"appendCells": {"sheetId": 0, "rows": [_cells("c-9")], "fields": "userEnteredValue"}}
    with pytest.raises(HttpError) as exc_info:
        sheets.spreadsheets().batchUpdate(spreadsheetId=sheet_id, body={"requests": [good, request_]}).execute()
    assert exc_info.value.resp.status == 400
    assert problem in _error(exc_info)["message"]
    assert sheets_emulator.values(sheet_id) == before
