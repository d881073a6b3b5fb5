"""Service accounts and Google's OAuth token endpoint (the JWT-bearer grant google-auth sends).

``new_account`` makes a key pair and returns the key JSON a service account's key file holds, with
``token_uri`` at the emulator. ``POST /token`` checks the signed assertion as Google does (an RS256 JWT
from a known ``client_email``, signature, times, audience) and hands out a bearer token; the user a
Sheets request counts against is the token's ``client_email``, its project the key's ``project_id``."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_SECONDS = 3600
CLOCK_SKEW = 300  # seconds of disagreement tolerated between the key holder's clock and ours
DEFAULT_PROJECT = "callmcp-emulator"


class OAuthError(Exception):
    """An OAuth error as Google's token endpoint answers it: ``{"error", "error_description"}``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


@dataclass
class Account:
    email: str
    project_id: str
    key_id: str
    client_id: str
    public_key_pem: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass
class Token:
    user: str
    project: str
    expires: float


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class Accounts:
    """Known service accounts (public keys only) and the access tokens handed out."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, Token] = {}

    def new_account(self, token_uri: str, *, email: str | None = None, project_id: str | None = None) -> dict[str, Any]:
        project_id = project_id or DEFAULT_PROJECT
        email = email or f"sa-{secrets.token_hex(4)}@{project_id}.iam.gserviceaccount.com"
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        account = Account(email, project_id, secrets.token_hex(20), str(secrets.randbelow(10**21)), public)
        self.accounts[email] = account
        return {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": account.key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": account.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email}",
            "universe_domain": "googleapis.com",
        }

    def grant(self, grant_type: str | None, assertion: str | None) -> dict[str, Any]:
        """The token response for a JWT-bearer grant, or OAuthError as Google words it."""
        if grant_type != JWT_BEARER:
            raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type or ''}")
        if not assertion:
            raise OAuthError("invalid_request", "Missing required parameter: assertion")
        account, claims = self._verify(assertion)
        now = self.clock()
        if not (claims.get("iat", now + 2 * CLOCK_SKEW) <= now + CLOCK_SKEW
                and claims.get("exp", 0) > now - CLOCK_SKEW and claims["exp"] - claims["iat"] <= TOKEN_SECONDS):
            raise OAuthError("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                                              "reasonable timeframe. Check your iat and exp values in the JWT claim.")
        if not str(claims.get("aud", "")).endswith("/token"):
            raise OAuthError("invalid_grant", "Invalid JWT: the audience is not this token endpoint.")
        token = "ya29.emulator-" + secrets.token_urlsafe(32)
        self.tokens[token] = Token(account.email, account.project_id, now + TOKEN_SECONDS)
        return {"access_token": token, "expires_in": TOKEN_SECONDS - 1, "token_type": "Bearer"}

    def _verify(self, assertion: str) -> tuple[Account, dict[str, Any]]:
        try:
            head, body, signature = assertion.split(".")
            header, claims = json.loads(_b64decode(head)), json.loads(_b64decode(body))
            raw_signature = _b64decode(signature)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_grant", "Invalid JWT: malformed assertion.") from exc
        if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "Invalid JWT: expected an RS256-signed assertion.")
        account = self.accounts.get(str(claims.get("iss", "")))
        if account is None:
            raise OAuthError("invalid_grant", "Invalid grant: account not found")
        public = serialization.load_pem_public_key(account.public_key_pem.encode())
        if not isinstance(public, rsa.RSAPublicKey):  # pragma: no cover - we only store RSA keys
            raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        try:
            public.verify(raw_signature, f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise OAuthError("invalid_grant", "Invalid JWT Signature.") from exc
        return account, claims

    def caller(self, authorization: str | None) -> Token | None:
        """The token a ``Bearer`` header carries, if it is ours and still valid."""
        if not authorization or authorization[:7].lower() != "bearer ":
            return None
        token = self.tokens.get(authorization[7:].strip())
        if token is None or token.expires <= self.clock():
            return None
        return token

    def snapshot(self) -> dict[str, Any]:
        return {"accounts": [account.as_dict() for account in self.accounts.values()],
                "tokens": {key: token.__dict__ for key, token in self.tokens.items() if token.expires > self.clock()}}

    def restore(self, data: dict[str, Any]) -> None:
        self.accounts = {item["email"]: Account(**item) for item in data.get("accounts", [])}
        self.tokens = {key: Token(**value) for key, value in data.get("tokens", {}).items()}

    def clear(self) -> None:
        self.accounts.clear()
        self.tokens.clear()
