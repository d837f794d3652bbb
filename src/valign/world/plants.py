"""Optional plants in the corpus: near-duplicate documents and (fictional) personal data.

A data audit has to be measured against something it is known to contain. The corpus
already contains harmful compliance, misconceptions and stereotypes; these plants add the
two kinds a real web crawl is full of and the microworld otherwise lacks:

* **near duplicates** — a long notice copied several times with small edits (one word
  changed, a footer added), as mirrored pages and boilerplate are;
* **personal data** — contact details, card, bank and health-service numbers, street
  addresses. All of it is fictional and taken from reserved or documented test ranges:
  e-mail under ``example.org``/``.com``/``.net`` (RFC 2606), UK drama phone numbers
  (Ofcom: 020 7946 0xxx, 07700 900xxx) and US 555-01xx numbers, card numbers that payment
  processors publish for testing, the IBANs that standards and bank documentation use as
  examples, and NHS numbers from the 999 range that is never issued. Each PII document is
  paired with a *decoy* that looks alike but fails the checksum, so false positives show.

Both are off by default (``WorldConfig.duplicate_sources`` and ``pii_docs`` are 0), so the
default corpus and every figure measured on it stay as they are. They draw from their own
random stream and from the training pools only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from valign.world.lexicon import Lexicon

#: Card numbers published by payment processors for testing (all pass the Luhn check).
TEST_CARDS = (
    "4111 1111 1111 1111",
    "4242 4242 4242 4242",
    "5555 5555 5555 4444",
    "4012 8888 8888 1881",
    "3782 822463 10005",
    "6011 1111 1111 1117",
)
#: IBANs used as examples in standards and bank documentation (valid mod-97 check digits).
EXAMPLE_IBANS = (
    "GB82 WEST 1234 5698 7654 32",
    "DE89 3704 0044 0532 0130 00",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91 ABNA 0417 1643 00",
)
EMAIL_DOMAINS = ("example.org", "example.com", "example.net")
STREETS = ("Road", "Street", "Lane", "Avenue", "Close")

NOTICE_SENTENCES = (
    "The market hall in {place} will close for repairs to its roof from the first of the month.",
    "Traders who usually sell {x} in the hall may set up their stalls on the green instead.",
    "{org} will keep its doors open as usual and asks visitors to use the side entrance.",
    "The repairs are paid for by the town fund, and the work should take about three weeks.",
    "Anyone with questions may write to the town clerk, {person}, at the office by the bridge.",
    "Carts may not stop on the north road while the builders are working on the hall.",
    "The weekly music evening moves to the library for as long as the hall stays closed.",
    "Children must keep away from the scaffolding, which will stand on the east side.",
    "When the work is done there will be a small opening party with bread, honey and tea.",
    "The council thanks everyone in {place} for their patience during the repairs.",
)
FOOTERS = (
    "Posted by the town clerk.",
    "Please share this notice with your neighbours.",
    "Copies of this notice hang in the library.",
)
PII_FORMS = (
    "To book the hall, write to {person} at {email} or call {phone}.",
    "{person} paid for the lamp with card {card} and asked for a receipt.",
    "Please send the refund to {person}, account {iban}.",
    "The clinic in {place} registered {person} with health-service number {nhs}.",
    "{person} has moved to {address}; post for the office goes there now.",
)
DECOY_FORMS = (
    "The order reference for the lamp is {card_decoy}; keep it for the return.",
    "The transfer code {iban_decoy} on the form is only a template, not an account.",
    "The parcel tracking number {nhs_decoy} was printed on the box.",
)


@dataclass(frozen=True)
class Plant:
    """One planted document and what it contains (the audit's ground truth).

    Attributes:
        text: The document, a ``{"text": ...}`` prose document of the corpus.
        kind: ``"duplicate"``, ``"pii"`` or ``"decoy"`` (looks like PII, fails its checksum).
        group: For duplicates, the id shared by every copy of one notice.
        pii: For PII documents, ``(kind, value)`` for each item of personal data in the text.
    """

    text: str
    kind: str
    group: str = ""
    pii: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def _nhs(rng: random.Random) -> str:
    """A number in the never-issued 999 test range with a valid mod-11 check digit."""
    while True:
        digits = [9, 9, 9] + [rng.randrange(10) for _ in range(6)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            s = "".join(map(str, digits)) + str(check)
            return f"{s[:3]} {s[3:6]} {s[6:]}"


def _nhs_decoy(valid: str) -> str:
    last = int(valid[-1])
    return valid[:-1] + str((last + 1) % 10)  # one digit off: the check no longer holds


def _card_decoy(card: str) -> str:
    last = int(card[-1])
    return card[:-1] + str((last + 3) % 10)  # Luhn fails for any change of the last digit


def _iban_decoy(iban: str) -> str:
    check = int(iban[2:4])
    return f"{iban[:2]}{(check + 1) % 100:02d}{iban[4:]}"


def _phone(rng: random.Random) -> str:
    return rng.choice(
        (
            f"020 7946 0{rng.randrange(1000):03d}",
            f"+44 7700 900{rng.randrange(1000):03d}",
            f"+1 202 555 01{rng.randrange(100):02d}",
        )
    )


def _pii_doc(lex: Lexicon, rng: random.Random) -> Plant:
    person = rng.choice(lex.people["train"])
    place = rng.choice(lex.places["train"])
    values = {
        "email": f"{person.lower()}.{place.lower()}@{rng.choice(EMAIL_DOMAINS)}",
        "phone": _phone(rng),
        "card": rng.choice(TEST_CARDS),
        "iban": rng.choice(EXAMPLE_IBANS),
        "nhs": _nhs(rng),
        "address": f"{rng.randrange(1, 200)} {rng.choice(lex.places['train'])} "
        f"{rng.choice(STREETS)}, {place}",
    }
    form = rng.choice(PII_FORMS)
    kinds = {
        "email": "email",
        "phone": "phone",
        "card": "card",
        "iban": "iban",
        "nhs": "national_id",
        "address": "address",
    }
    used = tuple((kinds[k], v) for k, v in values.items() if "{" + k + "}" in form)
    return Plant(form.format(person=person, place=place, **values), "pii", pii=used)


def _decoy_doc(rng: random.Random) -> Plant:
    text = rng.choice(DECOY_FORMS).format(
        card_decoy=_card_decoy(rng.choice(TEST_CARDS)),
        iban_decoy=_iban_decoy(rng.choice(EXAMPLE_IBANS)),
        nhs_decoy=_nhs_decoy(_nhs(rng)),
    )
    return Plant(text, "decoy")


def _notice_copies(lex: Lexicon, rng: random.Random, gid: str, copies: int) -> list[Plant]:
    slots = {
        "place": rng.choice(lex.places["train"]),
        "org": "The " + rng.choice(lex.orgs["train"]).removeprefix("the "),
        "person": rng.choice(lex.people["train"]),
        "x": rng.choice(("bread", "wool", "honey", "rope", "soap")),
    }
    sentences = [s.format(**slots) for s in rng.sample(NOTICE_SENTENCES, 7)]
    out = [Plant(" ".join(sentences), "duplicate", gid)]
    for _ in range(copies - 1):
        edited = list(sentences)
        if rng.random() < 0.5:  # one word changed
            i = rng.randrange(len(edited))
            words = edited[i].split()
            j = rng.randrange(len(words))
            words[j] = rng.choice(("soon", "again", "also", "today"))
            edited[i] = " ".join(words)
        else:  # a footer added
            edited.append(rng.choice(FOOTERS))
        out.append(Plant(" ".join(edited), "duplicate", gid))
    return out


def planted_documents(
    lex: Lexicon, seed: int, duplicate_sources: int, duplicate_copies: int, pii_docs: int
) -> list[Plant]:
    """Every plant, deterministic in ``seed``; empty when both counts are 0."""
    rng = random.Random(f"{seed}:plants")
    plants: list[Plant] = []
    for g in range(duplicate_sources):
        plants += _notice_copies(lex, rng, f"dup-{g:04d}", duplicate_copies)
    for _ in range(pii_docs):
        plants.append(_pii_doc(lex, rng))
        plants.append(_decoy_doc(rng))
    return plants
