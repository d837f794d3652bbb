"""Failed-login lockout, counted in the database so that it holds across threads, server
processes and restarts.

Every login attempt is counted as a failure *before* its password is checked: one
transaction locks the counters of the attempt's keys (its account, and its client address
when the operator named trusted proxies), refuses the attempt if any of them is locked, and
otherwise adds one failure to each, locking a key whose count reaches its threshold for
``base_s * 2**(failures - threshold)`` seconds, at most ``max_s``. Only then is the password
checked; a right one takes its attempt back (:func:`succeed`). A count is therefore never
read before the failures of concurrent attempts are written, so N attempts sent at once get
exactly ``threshold`` password checks, and a locked key refuses even the right password.

A successful login clears its account's count (failures counted after it began stay) and
takes its own attempt back from its address's count, so an attacker cannot reset the
address by logging in to an account of their own between guesses. A key with no failure
for ``forget_s`` starts again from zero, and such rows are deleted now and then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from valign.feedback.human.store import Store
from valign.feedback.human.tables import LoginFailure

MAX_KEY = 128


@dataclass(frozen=True)
class Policy:
    """When failed logins lock a key, and for how long."""

    after: int = 5
    address_after: int = 20
    base_s: float = 30.0
    max_s: float = 3600.0
    forget_s: float = 86_400.0

    def lock_seconds(self, failures: int, threshold: int) -> float:
        """How long a key with ``failures`` failures stays locked (0: not locked)."""
        if failures < threshold:
            return 0.0
        return float(min(self.base_s * 2.0 ** min(failures - threshold, 64), self.max_s))


class Locked(Exception):
    """The attempt was refused unseen: a key is locked for ``retry_after`` more seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"locked for {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Ticket:
    """An attempt counted by :func:`begin`: each key's failure count with it included."""

    counts: Mapping[str, int]


def account_key(name: str) -> str:
    return f"account:{name[:64]}"


def address_key(host: str) -> str:
    return f"address:{host}"[:MAX_KEY]


def keys_for(policy: Policy, name: str, address: str | None) -> dict[str, int]:
    """The keys of one attempt and their thresholds."""
    keys = {account_key(name): policy.after}
    if address is not None:
        keys[address_key(address)] = policy.address_after
    return keys


def _lock_rows(s: Session, keys: Sequence[str]) -> list[LoginFailure]:
    """The counters of ``keys``, created if missing and locked for this transaction, in key
    order (so two attempts with two keys each never wait on each other in a cycle)."""
    ordered = sorted(keys)
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for _ in range(3):  # a row deleted by prune() between the insert and the lock: again
        for key in ordered:
            s.execute(
                insert(LoginFailure)
                .values(key=key, failures=0, locked_until=0.0, last_failure=0.0)
                .on_conflict_do_nothing()
            )
        rows = list(
            s.scalars(
                select(LoginFailure)
                .where(LoginFailure.key.in_(ordered))
                .order_by(LoginFailure.key)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        if len(rows) == len(ordered):
            return rows
    raise RuntimeError("login counters vanished three times in a row")


def begin(store: Store, keys: Mapping[str, int], policy: Policy, now: float) -> Ticket:
    """Count one failed attempt for each key (key -> threshold), or raise :class:`Locked`
    without counting anything when a key is locked."""
    with store.session() as s:
        rows = _lock_rows(s, list(keys))
        for row in rows:
            if row.last_failure < now - policy.forget_s and row.locked_until <= now:
                row.failures = 0
        wait = max(row.locked_until - now for row in rows)
        if wait > 0:
            raise Locked(wait)  # rolls the transaction back: nothing is counted
        for row in rows:
            row.failures += 1
            row.last_failure = now
            lock = policy.lock_seconds(row.failures, keys[row.key])
            row.locked_until = now + lock if lock else 0.0
        return Ticket({row.key: row.failures for row in rows})


def succeed(store: Store, ticket: Ticket, keys: Mapping[str, int]) -> None:
    """The attempt of ``ticket`` had the right password: take it back (see the module)."""
    with store.session() as s:
        for row in _lock_rows(s, list(ticket.counts)):
            mine = ticket.counts[row.key] if row.key.startswith("account:") else 1
            row.failures = max(row.failures - mine, 0)
            if row.failures < keys.get(row.key, 1):
                row.locked_until = 0.0


def clear(store: Store, name: str) -> None:
    """Forget the failed logins of account ``name`` (its password was just reset)."""
    with store.session() as s:
        s.execute(delete(LoginFailure).where(LoginFailure.key == account_key(name)))


def prune(store: Store, policy: Policy, now: float) -> int:
    """Delete counters with no failure for ``forget_s`` and no lock; returns how many.
    Rows another transaction holds are skipped, so this never waits on a login."""
    with store.session() as s:
        stale = list(
            s.scalars(
                select(LoginFailure.key)
                .where(
                    LoginFailure.last_failure < now - policy.forget_s,
                    LoginFailure.locked_until <= now,
                )
                .limit(10_000)
                .with_for_update(skip_locked=True)
            )
        )
        if stale:
            s.execute(delete(LoginFailure).where(LoginFailure.key.in_(stale)))
        return len(stale)
