"""Password hashers beyond Django's defaults."""

from __future__ import annotations

from django.contrib.auth.hashers import BCryptPasswordHasher

BCRYPT_MAX_BYTES = 72


class ImportedBCryptPasswordHasher(BCryptPasswordHasher):
    """Django's bcrypt hasher ("bcrypt$<hash>"), for the hashes of users moved from Supabase, whose
    GoTrue stores plain bcrypt ($2a$). Listed after the default hasher, so a user's hash is upgraded
    at the first login.

    bcrypt 5 raises for a password over 72 bytes; GoTrue never hashed one, so such a password cannot
    match: it is answered as wrong instead of failing the login with a server error.
    """

    def verify(self, password: str, encoded: str) -> bool:
        if len(password.encode()) > BCRYPT_MAX_BYTES:
            return False
        return bool(super().verify(password, encoded))

    def harden_runtime(self, password: str, encoded: str) -> None:
        if len(password.encode()) <= BCRYPT_MAX_BYTES:
            super().harden_runtime(password, encoded)
