"""The control API under ``/_emulator/`` for tests and demos: no auth, answered to loopback callers only."""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web

from sheets_sync.emulator.errors import ApiError, invalid
from sheets_sync.emulator.page import render_page
from sheets_sync.emulator.state import Emulator
from sheets_sync.emulator.store import ANYONE

EMULATOR = web.AppKey("emulator", Emulator)


def is_loopback(request: web.Request) -> bool:
    peer = request.remote or ""
    try:
        return ipaddress.ip_address(peer.split("%")[0]).is_loopback
    except ValueError:
        return peer == ""  # in-process test clients have no peer address


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid("The body must be JSON.") from exc
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid("The body must be a JSON object.")
    return body


def _emulator(request: web.Request) -> Emulator:
    return request.app[EMULATOR]


async def new_account(request: web.Request) -> web.Response:
    body = await _body(request)
    for field in ("email", "project_id"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise invalid(f"{field} must be a string.")
    if body.get("email") in _emulator(request).accounts.accounts:
        raise ApiError(409, f"Account {body['email']} already exists.")
    key = _emulator(request).accounts.new_account(f"{request.url.origin()}/token", email=body.get("email"),
                                                  project_id=body.get("project_id"))
    _emulator(request).store.dirty = True
    return web.json_response(key)


async def list_accounts(request: web.Request) -> web.Response:
    accounts = _emulator(request).accounts.accounts.values()
    return web.json_response([{"email": a.email, "project_id": a.project_id} for a in accounts])


def _shared_with(value: Any) -> set[str] | str:
    if value is None or value == ANYONE:
        return ANYONE
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return set(value)
    raise invalid('shared_with must be a list of emails or "*".')


async def new_spreadsheet(request: web.Request) -> web.Response:
    """Create a spreadsheet, or (same id again) update who it is shared with and add missing tabs; ``values``
    (``{tab: rows}``) seeds tabs from their first cell."""
    body = await _body(request)
    emulator = _emulator(request)
    tabs = body.get("sheets")
    if tabs is not None and (not isinstance(tabs, list) or not all(isinstance(t, str) and t for t in tabs)):
        raise invalid("sheets must be a list of tab titles.")
    for key in ("id", "title"):
        if body.get(key) is not None and (not isinstance(body[key], str) or not body[key]):
            raise invalid(f"{key} must be a non-empty string.")
    shared = _shared_with(body.get("shared_with"))
    seed = body.get("values") or {}
    if not isinstance(seed, dict) or not all(isinstance(rows, list) and all(isinstance(r, list) for r in rows)
                                             for rows in seed.values()):
        raise invalid("values must map tab titles to lists of rows.")
    tabs = list(dict.fromkeys([*(tabs or []), *seed])) or None
    existing = emulator.store.spreadsheets.get(body.get("id") or "")
    if existing is None:
        book = emulator.store.create(spreadsheet_id=body.get("id"), title=body.get("title"), shared_with=shared,
                                     tabs=tabs)
    else:
        book = existing
        book.shared_with = shared
        for tab in tabs or []:
            if tab not in book.titles():
                book.add_sheet(tab)
    for title, rows in seed.items():  # the grid grows to fit the seed
        sheet = book.sheet(title)
        sheet.rows = max(sheet.rows, len(rows))
        sheet.columns = max(sheet.columns, max((len(row) for row in rows), default=0))
        sheet.write(0, 0, rows)
    emulator.store.dirty = True
    return web.json_response({"id": book.spreadsheet_id, "created": existing is None})


async def spreadsheet_values(request: web.Request) -> web.Response:
    book = _emulator(request).store.spreadsheets.get(request.match_info["id"])
    if book is None:
        raise ApiError(404)
    return web.json_response({"id": book.spreadsheet_id, "title": book.title,
                              "sheets": {sheet.title: sheet.values for sheet in book.sheets},
                              "grid": {sheet.title: [sheet.rows, sheet.columns] for sheet in book.sheets}})


async def list_spreadsheets(request: web.Request) -> web.Response:
    books = _emulator(request).store.spreadsheets.values()
    return web.json_response([{"id": b.spreadsheet_id, "title": b.title, "tabs": b.titles()} for b in books])


async def faults(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    emulator.faults.update(await _body(request))
    return web.json_response(emulator.faults.as_dict())


async def quotas(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    emulator.quotas.limits.update(await _body(request))
    return web.json_response(emulator.quotas.limits.as_dict())


def _offset(request: web.Request) -> int:
    try:
        return max(0, int(request.query.get("since", "0")))
    except ValueError as exc:
        raise invalid("since must be an integer offset.") from exc


async def log(request: web.Request) -> web.Response:
    """The request log (a JSON list); ``?since=N`` gives entries from offset N, ``X-Next-Offset`` the next."""
    entries, following = _emulator(request).log.requests.since(_offset(request))
    return web.json_response(entries, headers={"X-Next-Offset": str(following)})


async def changes(request: web.Request) -> web.Response:
    """``GET``: the rows written since offset N; ``POST {"enabled": bool}`` switches recording."""
    emulator = _emulator(request)
    if request.method == "POST":
        enabled = (await _body(request)).get("enabled")
        if not isinstance(enabled, bool):
            raise invalid("enabled must be a boolean.")
        emulator.log.record_changes = enabled
        return web.json_response({"enabled": enabled})
    entries, following = emulator.log.changes.since(_offset(request))
    return web.json_response(entries, headers={"X-Next-Offset": str(following)})


async def state(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    return web.json_response({
        "quotas": emulator.quotas.limits.as_dict(), "usage": emulator.quotas.usage(),
        "faults": emulator.faults.as_dict(), "requests": len(emulator.log.requests.entries),
        "spreadsheets": len(emulator.store.spreadsheets), "accounts": len(emulator.accounts.accounts),
        "tokens_issued": emulator.tokens_issued, "recording_changes": emulator.log.record_changes,
    })


async def reset(request: web.Request) -> web.Response:
    body = await _body(request)
    _emulator(request).reset(keep_accounts=bool(body.get("keep_accounts")))
    return await state(request)


async def page(request: web.Request) -> web.Response:
    try:
        rows = int(request.query.get("rows", "200"))
    except ValueError:
        rows = 200
    return web.Response(text=render_page(_emulator(request), max_rows=max(1, rows)), content_type="text/html")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", page)
    app.router.add_post("/_emulator/accounts", new_account)
    app.router.add_get("/_emulator/accounts", list_accounts)
    app.router.add_post("/_emulator/spreadsheets", new_spreadsheet)
    app.router.add_get("/_emulator/spreadsheets", list_spreadsheets)
    app.router.add_get("/_emulator/spreadsheets/{id}", spreadsheet_values)
    app.router.add_post("/_emulator/faults", faults)
    app.router.add_post("/_emulator/quotas", quotas)
    app.router.add_get("/_emulator/log", log)
    app.router.add_get("/_emulator/changes", changes)
    app.router.add_post("/_emulator/changes", changes)
    app.router.add_get("/_emulator/state", state)
    app.router.add_post("/_emulator/reset", reset)
