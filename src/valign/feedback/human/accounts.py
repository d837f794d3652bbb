"""Rater and admin accounts."""

from __future__ import annotations

import functools
import re

from sqlalchemy import select

from valign.errors import UserError
from valign.feedback.human.auth import hash_password, verify_password
from valign.feedback.human.store import Store
from valign.feedback.human.tables import User

ROLES = ("rater", "admin")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8


def add_user(store: Store, name: str, password: str, role: str = "rater") -> User:
    """Create an account, or reset the password and role of an existing one."""
    if not _NAME.match(name):
        raise UserError(f"bad user name {name!r}: letters, digits, '_', '.', '@', '-', max 64")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
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
        return user


def authenticate(store: Store, name: str, password: str) -> User | None:
    with store.session() as s:
        user = s.scalar(select(User).where(User.name == name))
    if user is None or not user.active:
        verify_password(password, _dummy_hash())  # as slow as a real check: no name probing
        return None
    return user if verify_password(password, user.password_hash) else None


@functools.cache
def _dummy_hash() -> str:
    return hash_password("no such account")


def list_users(store: Store) -> list[User]:
    with store.session() as s:
        return list(s.scalars(select(User).order_by(User.name)))
