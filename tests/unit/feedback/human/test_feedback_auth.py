from __future__ import annotations

from valign.feedback.human.auth import Signer, hash_password, verify_password


def test_password_hash_round_trip_and_salt() -> None:
    h1, h2 = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert h1 != h2  # random salt
    assert verify_password("s3cret-pass", h1)
    assert not verify_password("s3cret-pasS", h1)
    assert not verify_password("x", "not-a-hash")


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
