"""The failed-login lockout: its back-off, its atomicity under concurrent attempts, and
what cannot reset it (a forged X-Forwarded-For, a malformed form)."""

from __future__ import annotations

import threading
import time

import pytest
from human_testkit import (
    PASSWORD,
    app_for,
    check_concurrent_wrong_passwords,
    check_forged_forwarded_for,
    client_for,
    field,
    login_storm,
    try_login,
)
from sqlalchemy import select

from valign.feedback.human import ServerSettings, Store, add_user
from valign.feedback.human.lockout import (
    Locked,
    Policy,
    Ticket,
    begin,
    keys_for,
    prune,
    succeed,
)
from valign.feedback.human.tables import LoginFailure

T0 = 1_000_000.0
POLICY = Policy(after=3, address_after=5, base_s=30.0, max_s=100.0, forget_s=3600.0)


def _row(store: Store, key: str) -> LoginFailure | None:
    with store.session() as s:
        return s.get(LoginFailure, key)


def test_lock_doubles_with_each_failure_up_to_the_cap() -> None:
    waits = [POLICY.lock_seconds(n, 3) for n in range(1, 8)]
    assert waits == [0.0, 0.0, 30.0, 60.0, 100.0, 100.0, 100.0]
    assert Policy().lock_seconds(10**6, 5) == 3600.0  # no overflow for a huge count


def test_attempts_are_counted_before_the_password_and_locked_ones_are_not(store: Store) -> None:
    keys = keys_for(POLICY, "ana", None)
    assert keys == {"account:ana": 3}
    for n in (1, 2, 3):
        assert begin(store, keys, POLICY, T0).counts == {"account:ana": n}
    with pytest.raises(Locked) as info:
        begin(store, keys, POLICY, T0 + 10)
    assert info.value.retry_after == pytest.approx(20.0)
    row = _row(store, "account:ana")
    assert row is not None and row.failures == 3  # a refused attempt is not counted
    # after the lock, the next failure locks for twice as long
    assert begin(store, keys, POLICY, T0 + 31).counts == {"account:ana": 4}
    with pytest.raises(Locked) as info:
        begin(store, keys, POLICY, T0 + 32)
    assert info.value.retry_after == pytest.approx(59.0)
    # a count with no failure for forget_s starts again
    assert begin(store, keys, POLICY, T0 + 31 + 3601).counts == {"account:ana": 1}


def test_success_clears_the_account_but_keeps_later_failures(store: Store) -> None:
    keys = keys_for(POLICY, "ana", "203.0.113.9")
    assert keys == {"account:ana": 3, "address:203.0.113.9": 5}
    begin(store, keys, POLICY, T0)
    mine = begin(store, keys, POLICY, T0)  # the right password, still being checked...
    begin(store, keys, POLICY, T0)  # ...while a wrong one is counted: now locked
    with pytest.raises(Locked):
        begin(store, keys, POLICY, T0)
    succeed(store, mine, keys)
    account, address = _row(store, "account:ana"), _row(store, "address:203.0.113.9")
    assert account is not None and (account.failures, account.locked_until) == (1, 0.0)
    # the address only gets its own attempt back: logging in to one's own account between
    # guesses at others does not reset it
    assert address is not None and address.failures == 2
    begin(store, keys, POLICY, T0 + 1)


def test_concurrent_attempts_pass_the_check_exactly_threshold_times(store: Store) -> None:
    keys = keys_for(POLICY, "bo", "203.0.113.9")
    barrier = threading.Barrier(12)
    tickets: list[Ticket] = []
    refused: list[float] = []

    def attempt() -> None:
        barrier.wait()
        try:
            tickets.append(begin(store, keys, POLICY, time.time()))
        except Locked as exc:
            refused.append(exc.retry_after)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(tickets) == 3 and len(refused) == 9
    assert sorted(t.counts["account:bo"] for t in tickets) == [1, 2, 3]


def test_prune_forgets_old_unlocked_counts_only(store: Store) -> None:
    begin(store, keys_for(POLICY, "old", None), POLICY, T0)
    long_lock = Policy(after=1, base_s=5000.0, max_s=5000.0, forget_s=3600.0)
    begin(store, keys_for(long_lock, "locked", None), long_lock, T0)  # until T0 + 5000
    begin(store, keys_for(POLICY, "new", None), POLICY, T0 + 3000)
    assert prune(store, POLICY, T0 + 3601) == 1
    with store.session() as s:
        assert sorted(s.scalars(select(LoginFailure.key))) == ["account:locked", "account:new"]


def test_concurrent_wrong_passwords_over_http(store: Store) -> None:
    check_concurrent_wrong_passwords(store)


def test_forged_forwarded_for_does_not_reset_the_lockout(store: Store) -> None:
    check_forged_forwarded_for(app_for(store))


def test_trusted_proxy_counts_per_forwarded_address(store: Store) -> None:
    settings = ServerSettings(seed=0, forwarded_allow_ips=("10.0.0.1",), address_lockout_after=3)
    app = app_for(store, settings)
    sprayer = {"x-forwarded-for": "203.0.113.7"}
    # one wrong password for each of three names locks the address, not the names
    statuses = [
        login_storm(app, 1, name, "wrong-password", lambda i: sprayer, ("10.0.0.1", 1))[0]
        for name in ("ana", "bo", "zed")
    ]
    assert statuses == [401, 401, 401]
    from fastapi.testclient import TestClient

    proxy = TestClient(app, follow_redirects=False, client=("10.0.0.1", 1))
    assert try_login(proxy, "cy", PASSWORD, sprayer) == 429
    assert try_login(proxy, "cy", PASSWORD, {"x-forwarded-for": "203.0.113.8"}) == 303
    # an untrusted peer's header is ignored: its own address is counted
    other = TestClient(app, follow_redirects=False, client=("10.0.0.2", 1))
    assert try_login(other, "ana", PASSWORD, sprayer) == 303
    assert _row(store, "address:10.0.0.2") is not None
    assert _row(store, "address:203.0.113.7") is not None


def test_malformed_attempts_count_and_the_lock_expires(store: Store) -> None:
    c = client_for(store, ServerSettings(seed=0, lockout_after=3, lockout_seconds=0.4))
    assert try_login(c, "ana", "x" * 1025) == 400
    token = field(c.get("/login").text, "csrf")
    twice = {"csrf": token, "name": "ana", "password": ["one-password", PASSWORD]}
    assert c.post("/login", data=twice).status_code == 400
    assert try_login(c, "ana", "") == 401
    assert try_login(c, "ana", PASSWORD) == 429  # three failures of three kinds
    time.sleep(0.45)
    assert try_login(c, "ana", PASSWORD) == 303
    row = _row(store, "account:ana")
    assert row is not None and (row.failures, row.locked_until) == (0, 0.0)
    # a name too long for any account counts toward the account of its first 64 characters
    assert try_login(c, "z" * 70, PASSWORD) == 400
    row = _row(store, "account:" + "z" * 64)
    assert row is not None and row.failures == 1


def test_a_new_password_ends_the_lockout(store: Store) -> None:
    c = client_for(store, ServerSettings(seed=0, lockout_after=2))
    assert [try_login(c, "bo", "nope-nope") for _ in range(3)] == [401, 401, 429]
    add_user(store, "bo", "another-pass-1")
    assert try_login(c, "bo", "another-pass-1") == 303
