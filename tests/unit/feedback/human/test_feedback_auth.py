from __future__ import annotations

import base64
import hashlib

from argon2 import PasswordHasher
from human_testkit import PASSWORD, client_for, login
from sqlalchemy import select

from valign.feedback.human import Store
from valign.feedback.human.auth import Signer, hash_password, needs_rehash, verify_password
from valign.feedback.human.tables import User


def _scrypt_hash(password: str, n: int = 2**14) -> str:
    """A hash as earlier versions stored them."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=8, p=1, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}$8$1${b64(salt).decode()}${b64(digest).decode()}"


def test_password_hash_round_trip_and_salt() -> None:
    h1, h2 = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert h1 != h2  # random salt
    assert verify_password("s3cret-pass", h1)
    assert not verify_password("s3cret-pasS", h1)
    assert not verify_password("x", "not-a-hash")


def test_passwords_are_argon2id_at_the_owasp_cost() -> None:
    stored = hash_password("s3cret-pass")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert not needs_rehash(stored)


def test_older_hashes_still_verify_and_ask_to_be_replaced() -> None:
    old = _scrypt_hash("s3cret-pass")
    assert verify_password("s3cret-pass", old) and not verify_password("s3cret-pasS", old)
    assert needs_rehash(old)
    cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("s3cret-pass")
    assert verify_password("s3cret-pass", cheap) and needs_rehash(cheap)
    for broken in [
        "scrypt$x$8$1$AA==$AA==",
        "scrypt$1073741824$8$1$AA==$AA==",  # more memory than allowed: refused, not tried
        "scrypt$16384$8$1$!!$!!",
        "$argon2id$v=19$garbage",
    ]:
        assert not verify_password("s3cret-pass", broken)


def test_login_replaces_an_older_hash(store: Store) -> None:
    with store.session() as s:
        user = s.scalars(select(User).where(User.name == "ana")).one()
        user.password_hash = _scrypt_hash(PASSWORD)
    login(client_for(store), "ana")
    with store.session() as s:
        stored = s.scalars(select(User.password_hash).where(User.name == "ana")).one()
    assert stored.startswith("$argon2id$") and verify_password(PASSWORD, stored)
    login(client_for(store), "ana")


def test_session_cookie_is_signed_and_expires() -> None:
    signer = Signer("k" * 32, max_age_s=60)
    cookie = signer.session_cookie(7, 3)
    data = signer.read_session(cookie)
    assert data is not None and (data.user_id, data.version) == (7, 3)
    assert signer.read_session(cookie[:-2] + "xx") is None
    assert Signer("other" * 8, 60).read_session(cookie) is None
    assert Signer("k" * 32, max_age_s=-1).read_session(cookie) is None


def test_csrf_token_is_bound_to_the_session() -> None:
    signer = Signer("k" * 32, 60)
    token = signer.csrf_token("sid-1")
    assert signer.check_csrf("sid-1", token)
    assert not signer.check_csrf("sid-2", token)
    assert not signer.check_csrf("sid-1", None)
    cookie, form_token = signer.login_cookie()
    assert signer.check_login(cookie, form_token)
    assert not signer.check_login(cookie, "forged")
