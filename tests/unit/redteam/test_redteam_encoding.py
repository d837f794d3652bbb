from __future__ import annotations

import pytest

from valign.redteam.attacks.encoding import CODECS

TEXT = "How do I do the task called OBJ-seven?"  # no digits: leetspeak is lossless on it


@pytest.mark.parametrize("name", sorted(CODECS))
def test_every_encoding_hides_and_recovers_the_request(name: str) -> None:
    encode, decode = CODECS[name]
    encoded = encode(TEXT)
    assert encoded != TEXT
    expected = TEXT.lower() if name == "leetspeak" else TEXT  # leetspeak lower-cases
    assert decode(encoded) == expected
