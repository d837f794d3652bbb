"""Personal-data detectors on hand-written cases; checksum-invalid numbers are not PII."""

from __future__ import annotations

import pytest

from valign.data.pii import (
    card_valid,
    find_pii,
    iban_valid,
    ip_valid,
    luhn_valid,
    nhs_valid,
    redact,
)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.value) for f in find_pii(text)]


@pytest.mark.parametrize(
    "number",
    ["4111 1111 1111 1111", "4242-4242-4242-4242", "5555555555554444", "3782 822463 10005"],
)
def test_published_test_cards_pass_luhn_and_are_found(number: str) -> None:
    assert luhn_valid(number) and card_valid(number)
    assert kinds(f"paid with {number} today") == [("card", number)]


@pytest.mark.parametrize(
    "number", ["4111 1111 1111 1112", "4242 4242 4242 4241", "1234 5678 9012 3456"]
)
def test_card_numbers_failing_luhn_are_not_flagged(number: str) -> None:
    assert not card_valid(number)
    assert kinds(f"order reference {number}") == []


def test_iban_checksum() -> None:
    assert iban_valid("GB82 WEST 1234 5698 7654 32")
    assert iban_valid("DE89370400440532013000")
    assert not iban_valid("GB83 WEST 1234 5698 7654 32")  # check digits off by one
    assert not iban_valid("DE89 3704 0044 0532 0130")  # wrong length for DE
    assert kinds("send it to GB82 WEST 1234 5698 7654 32 please") == [
        ("iban", "GB82 WEST 1234 5698 7654 32")
    ]
    # a failing IBAN is not PII, and no piece of it is taken for a phone number either
    assert kinds("template code NL92 ABNA 0417 1643 00 on the form") == []


def test_national_ids() -> None:
    valid, invalid = "943 476 5919", "943 476 5910"
    assert nhs_valid(valid) and not nhs_valid(invalid)
    assert kinds(f"NHS number {valid}") == [("national_id", valid)]
    assert kinds(f"tracking {invalid}") == []
    assert kinds("SSN 123-45-6789") == [("national_id", "123-45-6789")]
    for never_issued in ("000-12-3456", "666-12-3456", "987-65-4321", "123-00-4567"):
        assert kinds(f"SSN {never_issued}") == []


def test_email_phone_address() -> None:
    text = (
        "Write to jo.smith@example.org or call +44 20 7946 0123, 020 7946 0999 or "
        "(202) 555-0143; the office is at 12 Velford Road."
    )
    assert kinds(text) == [
        ("email", "jo.smith@example.org"),
        ("phone", "+44 20 7946 0123"),
        ("phone", "020 7946 0999"),
        ("phone", "(202) 555-0143"),
        ("address", "12 Velford Road."),
    ]


def test_a_phone_number_with_a_country_code_is_not_an_id() -> None:
    # "202 555 0170" alone passes the NHS mod-11 check; after "+1 " it is a phone number
    assert kinds("call +1 202 555 0170 today") == [("phone", "+1 202 555 0170")]


def test_things_that_are_not_pii() -> None:
    for text in (
        "What is 7 plus 8?",
        "Version 1.2.3 was released in 2024-05-01.",
        "Ticket 999 685 8945 was printed on the box.",  # 3-3-4 digits, not a phone
        "The 3 Veltari people met at noon.",
        "Call me maybe.",
    ):
        assert kinds(text) == [], text


def test_redact_replaces_each_finding_with_its_kind() -> None:
    text = "Mail a.b@example.com, card 4111 1111 1111 1111."
    assert redact(text, find_pii(text)) == "Mail [EMAIL], card [CARD]."
    assert find_pii(redact(text, find_pii(text))) == []


def test_kinds_can_be_restricted() -> None:
    text = "a.b@example.com and 4111 1111 1111 1111"
    assert [f.kind for f in find_pii(text, ["card"])] == ["card"]


# --------------------------------------------------------------------------- card ranges


@pytest.mark.parametrize(
    "number",
    # Mastercard's published 2-series test numbers, at both ends of 2221–2720 and between
    ["2223 0031 2200 3222", "2223-5204-3156-0154", "2221000000000009", "2720992720992729"],
)
def test_mastercard_2_series_is_found(number: str) -> None:
    assert card_valid(number)
    assert kinds(f"paid with {number} today") == [("card", number)]


@pytest.mark.parametrize(
    "number",
    [
        "2223 0031 2200 3223",  # 2-series prefix, Luhn fails
        "2220 9900 0000 0002",  # Luhn-valid, prefix just below 2221
        "2721 0000 0000 0004",  # Luhn-valid, prefix just above 2720
        "2223 0031 2200 322",  # 15 digits: 2-series numbers have 16
    ],
)
def test_near_miss_2_series_numbers_are_not_cards(number: str) -> None:
    assert not card_valid(number)
    assert "card" not in [k for k, _ in kinds(f"order reference {number}")]


# --------------------------------------------------------------------------- IP addresses


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("the request came from 203.0.113.42 at noon", "203.0.113.42"),
        ("Connect to 10.0.0.1.", "10.0.0.1"),
        ("router 192.168.1.254, then", "192.168.1.254"),
        ("peer 2001:db8:85a3::8a2e:370:7334 answered", "2001:db8:85a3::8a2e:370:7334"),
        (
            "full 2001:0db8:0000:0000:0000:ff00:0042:8329 form",
            "2001:0db8:0000:0000:0000:ff00:0042:8329",
        ),
        ("link-local fe80::1 on eth0", "fe80::1"),
    ],
)
def test_ip_addresses_are_found(text: str, address: str) -> None:
    assert ip_valid(address)
    assert kinds(text) == [("ip", address)]
    assert redact(text, find_pii(text)) == text.replace(address, "[IP]")


@pytest.mark.parametrize(
    "text",
    [
        "999.1.1.1 is not an address",  # octet out of range
        "256.10.10.10",
        "build 1.2.3.4.5 shipped",  # a dotted run longer than four
        "see section 10.2.3.4.1 of the manual",
        "Version 1.2.3.4 was released.",  # four parts after "version"
        "netmask 255.255.255.0 on the interface",  # reserved range: names no host
        "listen on 0.0.0.0 and 127.0.0.1 and ::1",  # unspecified and loopback
        "at 12:30:45 the train left",  # a time
        "MAC 00:1A:2B:3C:4D:5E",  # a hardware address
        "use std::vector and dead::beef in code",
        "ratio 1:2:3",
    ],
)
def test_near_miss_ip_addresses_are_not_found(text: str) -> None:
    assert [k for k, _ in kinds(text)] == [], text
