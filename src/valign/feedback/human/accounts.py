"""Rater and admin accounts.

A login with a password hash of an older scheme or cost (scrypt, before argon2id) stores a
current hash of the password it just checked, so old databases upgrade as people log in.
"""

from __future__ import annotations

import functools
import re

from sqlalchemy import select

from valign.errors import UserError
from valign.feedback.human import lockout
from valign.feedback.human.auth import hash_password, needs_rehash, verify_password
from valign.feedback.human.store import Store
from valign.feedback.human.tables import User

ROLES = ("rater", "admin")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_NAME = 64


def add_user(store: Store, name: str, password: str, role: str = "rater") -> User:
    """Create an account, or reset the password and role of an existing one."""
    if not _NAME.fullmatch(name):
        raise UserError(f"bad user name {name!r}: letters, digits, '_', '.', '@', '-', max 64")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(
            f"the password must have at least {MIN_PASSWORD} and at most {MAX_PASSWORD} characters"
        )
    hashed = hash_password(password)
    with store.session() as s:
        user = s.scalar(select(User).where(User.name == name))
        if user is None:
            user = User(name=name, password_hash=hashed, role=role, active=True, session_version=0)
            s.add(user)
        else:
            user.password_hash, user.role, user.active = hashed, role, True
            user.session_version += 1
        s.flush()
    lockout.clear(store, name)  # a new password ends a lockout
    return user


def authenticate(store: Store, name: str, password: str) -> User | None:
    with store.session() as s:
        user = s.scalar(select(User).where(User.name == name))
    if user is None or not user.active:
        verify_password(password, _dummy_hash())  # as slow as a real check: no name probing
        return None
    if not verify_password(password, user.password_hash):
        return None
    if needs_rehash(user.password_hash):
        _upgrade_hash(store, user, password)
    return user


def _upgrade_hash(store: Store, user: User, password: str) -> None:
    """Replace the checked hash with a current one (unless it changed meanwhile)."""
    hashed = hash_password(password)
    with store.session() as s:
        row = s.get(User, user.id)
        if row is not None and row.password_hash == user.password_hash:
            row.password_hash = user.password_hash = hashed


@functools.cache
def _dummy_hash() -> str:
    return hash_password("no such account")


def list_users(store: Store) -> list[User]:
    with store.session() as s:
        return list(s.scalars(select(User).order_by(User.name)))
