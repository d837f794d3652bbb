"""Personal data in text: find it, count it, redact it.

Detectors are regular expressions followed, where the kind of number has one, by its
checksum — a digit string is a card number only if it passes the Luhn check, an IBAN only
if it passes ISO 13616's mod-97 check, a UK NHS number only if it passes its mod-11 check —
because on real text the pattern alone flags every order number and tracking code.

=============  =========================================================================
kind           rule
=============  =========================================================================
email          local@domain.tld
card           13–19 digits (spaces or dashes allowed), a known issuer prefix (Mastercard's
               2-series 2221–2720 included), Luhn
iban           country code, 2 check digits, 11–30 alphanumerics, length per country, mod 97
national_id    NHS number (10 digits, mod 11); US SSN (AAA-GG-SSSS, issuable ranges only)
ip             IPv4 dotted quad or IPv6, valid by the stdlib ``ipaddress``; not part of a
               longer dotted run (``1.2.3.4.5``), not after "version"/"release"/"build",
               and not an address that names no host (unspecified, loopback, multicast,
               reserved: ``0.0.0.0``, ``127.0.0.1``, ``::1``, netmasks like
               ``255.255.255.0``); an IPv6 candidate needs a digit (``dead::beef`` is code)
phone          international (+CC …, 8–15 digits), national with a trunk 0, or US
               (NNN) NNN-NNNN / NNN-NNN-NNNN; three space-separated groups without a
               leading + or 0 are not taken as a phone number (too many codes look alike)
address        house number, 1–3 capitalised words, a street type (Road, Street, Lane…)
=============  =========================================================================

Kinds are tried in that order and a span already claimed is not claimed again, so a card
number is not also reported as a phone number. A code shaped like an IBAN or an SSN, or a
run of 16 or more digits, that fails its checksum is not PII, and it also keeps the phone detector
from claiming a piece of it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

KINDS = ("email", "card", "iban", "national_id", "ip", "phone", "address")

#: Length of a full IBAN per country (ISO 13616 registry; the common ones).
IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21,
    "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24,
    "SI": 19, "SK": 24, "SM": 27, "TR": 26,
}  # fmt: skip

_TRIGGER = re.compile(r"[\d@]")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_NHS = re.compile(  # not right after a country code: "+1 202 555 0170" is a phone number
    r"(?<![\d-])(?<!\+\d[ -])(?<!\+\d\d[ -])(?<!\+\d\d\d[ -])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\d-])"
)
_SSN = re.compile(r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,5}"  # international
    r"|0\d{1,4}(?:[ .-]?\d{2,4}){2,3}"  # national, trunk prefix 0
    r"|\(\d{3}\) ?\d{3}-\d{4}|\d{3}-\d{3}-\d{4}"  # US
    r")(?![\w-])"
)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\w)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?![\w:]|\.\w)"
)
_VERSION_BEFORE = re.compile(r"(?i)\b(?:version|release|build|ver\.?)\s*$")
_ADDRESS = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][a-z'-]+\s+){1,3}"
    r"(?:Road|Rd|Street|St|Lane|Ln|Avenue|Ave|Close|Drive|Dr|Way|Court|Ct|Place|Pl"
    r"|Boulevard|Blvd|Terrace|Square|Crescent|Gardens|Grove|Row|Hill)\b\.?"
)


@dataclass(frozen=True)
class Finding:
    """One item of personal data: its kind and where it is in the text."""

    kind: str
    start: int
    end: int
    value: str


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def luhn_valid(number: str) -> bool:
    """The Luhn (mod 10) check of card numbers."""
    ds = [int(c) for c in digits(number)]
    if not ds:
        return False
    total = 0
    for i, d in enumerate(reversed(ds)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_valid(number: str) -> bool:
    """13–19 digits, a known issuer prefix (Visa, Mastercard, Amex, Discover, JCB,
    Diners, UnionPay, Maestro) and the Luhn check.

    Mastercard's 2-series (issued since 2017) is 16 digits with a prefix from 2221 to 2720;
    other numbers starting with 2 are not cards.
    """
    ds = digits(number)
    if not 13 <= len(ds) <= 19 or len(set(ds)) == 1:
        return False
    mastercard_2 = len(ds) == 16 and 2221 <= int(ds[:4]) <= 2720
    return (ds[0] in "3456" or mastercard_2) and luhn_valid(ds)


def ip_valid(text: str) -> bool:
    """An IPv4 or IPv6 address (stdlib ``ipaddress``) that can name a host: not the
    unspecified, loopback, multicast or reserved ranges (netmasks, broadcast)."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    if ip.version == 6 and not any(ch.isdigit() for ch in text):
        return False  # "dead::beef", "add::face": hex words in code, not addresses
    return not (ip.is_unspecified or ip.is_loopback or ip.is_multicast or ip.is_reserved)


def iban_valid(text: str) -> bool:
    """ISO 13616: the length for the country, then mod 97 of the rearranged number is 1."""
    s = text.replace(" ", "").upper()
    if len(s) < 15 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    expected = IBAN_LENGTHS.get(s[:2])
    if expected is not None and len(s) != expected:
        return False
    rearranged = s[4:] + s[:4]
    try:
        number = "".join(str(int(ch, 36)) for ch in rearranged)
    except ValueError:
        return False
    return int(number) % 97 == 1


def nhs_valid(text: str) -> bool:
    """UK NHS number: weights 10..2 on the first nine digits, check = 11 - sum mod 11."""
    ds = [int(c) for c in digits(text)]
    if len(ds) != 10 or len(set(ds)) == 1:
        return False
    check = 11 - sum(d * w for d, w in zip(ds[:9], range(10, 1, -1), strict=True)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == ds[9]


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """US SSN: no checksum exists; area 000, 666 and 900–999, group 00, serial 0000 are never
    issued, so they are rejected."""
    a = int(area)
    return a != 0 and a != 666 and a < 900 and group != "00" and serial != "0000"


def phone_valid(text: str) -> bool:
    n = len(digits(text))
    return 8 <= n <= 15


def _matches(pattern: re.Pattern[str], text: str, ok: Callable[[str], bool]) -> Iterable[Finding]:
    for m in pattern.finditer(text):
        if ok(m.group(0)):
            yield Finding("", m.start(), m.end(), m.group(0))


def _candidates(kind: str, text: str) -> Iterable[Finding]:
    if kind == "email":
        yield from _matches(_EMAIL, text, lambda s: True)
    elif kind == "card":
        yield from _matches(_CARD, text, card_valid)
    elif kind == "iban":
        yield from _matches(_IBAN, text, iban_valid)
    elif kind == "national_id":
        yield from _matches(_NHS, text, nhs_valid)
        for m in _SSN.finditer(text):
            if ssn_valid(*m.groups()):
                yield Finding("", m.start(), m.end(), m.group(0))
    elif kind == "ip":
        for pattern in (_IPV6, _IPV4):  # IPv6 first: it may end in an IPv4 quad
            for m in pattern.finditer(text):
                if ip_valid(m.group(0)) and not _VERSION_BEFORE.search(text, 0, m.start()):
                    yield Finding("", m.start(), m.end(), m.group(0))
    elif kind == "phone":
        yield from _matches(_PHONE, text, phone_valid)
    elif kind == "address":
        yield from _matches(_ADDRESS, text, lambda s: True)


def find_pii(text: str, kinds: Iterable[str] = KINDS) -> list[Finding]:
    """Every item of personal data in ``text``, in text order; spans do not overlap."""
    wanted = set(kinds)
    taken: list[tuple[int, int]] = []
    found: list[Finding] = []
    if not _TRIGGER.search(text):
        return found  # every kind needs a digit or an @: the common case is cheap
    if "phone" in wanted:  # checksum-failing codes are not phone numbers either
        taken += [(m.start(), m.end()) for m in _IBAN.finditer(text)]
        taken += [(m.start(), m.end()) for m in _SSN.finditer(text)]
        taken += [(m.start(), m.end()) for m in _CARD.finditer(text) if len(digits(m[0])) >= 16]
    blockers = len(taken)
    for kind in KINDS:
        if kind not in wanted:
            continue
        for f in _candidates(kind, text):
            overlaps = [i for i, (s, e) in enumerate(taken) if f.start < e and s < f.end]
            if any(i >= blockers or kind == "phone" for i in overlaps):
                continue
            taken.append((f.start, f.end))
            found.append(Finding(kind, f.start, f.end, f.value))
    found.sort(key=lambda f: f.start)
    return found


def redact(text: str, findings: Iterable[Finding]) -> str:
    """Replace each finding with ``[KIND]`` (e.g. ``[EMAIL]``)."""
    out, pos = [], 0
    for f in sorted(findings, key=lambda f: f.start):
        out.append(text[pos : f.start])
        out.append(f"[{f.kind.upper()}]")
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
