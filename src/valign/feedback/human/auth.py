"""Passwords, session cookies and CSRF tokens.

Passwords are hashed with argon2id (argon2-cffi) at OWASP's recommended cost: 19 MiB of
memory, two passes, one lane (about 50 ms per hash on one core). Hashes written by earlier
versions (scrypt, ``scrypt$N$r$p$salt$digest``) still verify, and :func:`needs_rehash` tells
the login to replace them (and argon2 hashes of a lower cost) with a current one. A session
is a cookie signed with the server's secret holding the user id, the user's
``session_version`` (logging out raises it, which ends every cookie of that user) and a
random session id. The CSRF token of a session is an HMAC of that session id, so it needs
no storage and is worthless without the cookie; the login form, which comes before any
session, uses a signed double-submit cookie instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_SCRYPT_MAXMEM = 256 * 1024 * 1024


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (argon2id, or a legacy scrypt hash)."""
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made by another scheme or at another cost than today's."""
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=32,
            maxmem=_SCRYPT_MAXMEM,
        )
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, binascii.Error):
        return False


@dataclass(frozen=True)
class SessionData:
    user_id: int
    version: int
    sid: str


class Signer:
    """Signs session cookies and derives CSRF tokens from one secret."""

    def __init__(self, secret: str, max_age_s: int) -> None:
        self.secret = secret.encode()
        self.max_age_s = max_age_s
        self._session = URLSafeTimedSerializer(secret, salt="valign-feedback-session")
        self._login = URLSafeTimedSerializer(secret, salt="valign-feedback-login")

    def session_cookie(self, user_id: int, version: int) -> str:
        return self._session.dumps([user_id, version, secrets.token_urlsafe(16)])

    def read_session(self, cookie: str | None) -> SessionData | None:
        if not cookie:
            return None
        try:
            user_id, version, sid = self._session.loads(cookie, max_age=self.max_age_s)
        except (BadSignature, ValueError, TypeError):
            return None
        return SessionData(int(user_id), int(version), str(sid))

    def csrf_token(self, sid: str) -> str:
        return hmac.new(self.secret, f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, sid: str, token: object) -> bool:
        return isinstance(token, str) and bool(token) and _same(self.csrf_token(sid), token)

    def login_cookie(self) -> tuple[str, str]:
        """A fresh (cookie, form token) pair for the login form."""
        token = secrets.token_urlsafe(16)
        return self._login.dumps(token), token

    def check_login(self, cookie: str | None, token: object) -> bool:
        if not cookie or not token or not isinstance(token, str):
            return False
        try:
            expected = self._login.loads(cookie, max_age=3600)
        except BadSignature:
            return False
        return _same(str(expected), token)


def _same(a: str, b: str) -> bool:
    """Constant-time equality of two strings of any characters."""
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )
