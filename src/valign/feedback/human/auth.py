"""Passwords, session cookies and CSRF tokens.

Passwords are hashed with scrypt (standard library, memory-hard) and a random salt per user.
A session is a cookie signed with the server's secret holding the user id, the user's
``session_version`` (logging out raises it, which ends every cookie of that user) and a
random session id. The CSRF token of a session is an HMAC of that session id, so it needs
no storage and is worthless without the cookie; the login form, which comes before any
session, uses a signed double-submit cookie instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

_N, _R, _P = 2**14, 8, 1  # scrypt cost: ~16 MiB and ~30 ms per hash


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=32,
        maxmem=64 * 1024 * 1024,
    )
    return hmac.compare_digest(got, base64.b64decode(digest))


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

    def check_csrf(self, sid: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(sid), str(token))

    def login_cookie(self) -> tuple[str, str]:
        """A fresh (cookie, form token) pair for the login form."""
        token = secrets.token_urlsafe(16)
        return self._login.dumps(token), token

    def check_login(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token:
            return False
        try:
            expected = self._login.loads(cookie, max_age=3600)
        except BadSignature:
            return False
        return hmac.compare_digest(str(expected), str(token))
