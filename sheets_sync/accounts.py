"""The service-account pool, from ``SHEETS_CREDENTIALS``.

The variable holds one service-account JSON key (its content, or the path of its file), a JSON list of
keys (content), or several paths separated by ``,``. A file may itself hold one key or a list. Empty
means no account: sync is off and the outbox keeps the rows. Anything malformed raises
``CredentialsError`` naming the variable and which key is wrong, so a system check and start-up say it
once and clearly. Google counts each service account as one user (60 requests a minute each), so the
pool is how a deployment goes past that: every account has its own bucket under the project's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

VARIABLE = "SHEETS_CREDENTIALS"
_REQUIRED = ("client_email", "private_key", "token_uri")


class CredentialsError(ImproperlyConfigured):
    """``SHEETS_CREDENTIALS`` (or the file it names) does not hold usable service-account keys."""


@dataclass(frozen=True)
class ServiceAccount:
    email: str
    info: dict[str, Any] = field(compare=False, hash=False, repr=False)


def load_accounts(raw: str, *, variable: str = VARIABLE) -> list[ServiceAccount]:
    """Parse the variable's value into the pool (in the order given; duplicates are an error)."""
    text = raw.strip()
    if not text:
        return []
    if text[0] in "[{":
        keys = _keys_from_json(text, where=f"{variable} (JSON content)", variable=variable)
    else:
        keys = []
        for path in (part.strip() for part in text.split(",")):
            if path:
                keys.extend(_keys_from_file(path, variable=variable))
    accounts: list[ServiceAccount] = []
    for key, where in keys:
        accounts.append(_account(key, where=where, variable=variable))
    seen: set[str] = set()
    for account in accounts:
        if account.email in seen:
            raise CredentialsError(f"{variable} lists the service account {account.email} twice")
        seen.add(account.email)
    return accounts


def accounts_from_settings() -> list[ServiceAccount]:
    from django.conf import settings

    return load_accounts(getattr(settings, "SHEETS_CREDENTIALS", ""))


def _keys_from_file(path: str, *, variable: str) -> list[tuple[Any, str]]:
    file = Path(path).expanduser()
    try:
        text = file.read_text()
    except OSError as exc:
        raise CredentialsError(
            f"{variable} names the key file {path!r}, which cannot be read: {exc.strerror or exc}"
        ) from exc
    return _keys_from_json(text, where=f"{variable} file {path!r}", variable=variable)


def _keys_from_json(text: str, *, where: str, variable: str) -> list[tuple[Any, str]]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CredentialsError(f"{where} is not valid JSON: {exc}") from exc
    if isinstance(value, list):
        if not value:
            raise CredentialsError(f"{where} is an empty list of keys")
        return [(key, f"{where}, key {index + 1}") for index, key in enumerate(value)]
    return [(value, where)]


def _account(key: Any, *, where: str, variable: str) -> ServiceAccount:
    if not isinstance(key, dict):
        raise CredentialsError(f"{where} is not a service-account key (a JSON object)")
    if key.get("type", "service_account") != "service_account":
        raise CredentialsError(f"{where} is a {key.get('type')!r} key, not a service_account key")
    missing = [name for name in _REQUIRED if not isinstance(key.get(name), str) or not key[name]]
    if missing:
        raise CredentialsError(f"{where} is not a service-account key: {', '.join(missing)} missing")
    if "PRIVATE KEY-----" not in key["private_key"]:
        raise CredentialsError(f"{where}: private_key is not a PEM private key")
    if not key["token_uri"].startswith(("https://", "http://")):
        raise CredentialsError(f"{where}: token_uri {key['token_uri']!r} is not an http(s) URL")
    return ServiceAccount(email=key["client_email"], info=dict(key))
