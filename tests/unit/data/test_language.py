"""Script and function-word language labels."""

from __future__ import annotations

from valign.data.language import LanguageDetector, script_of
from valign.data.lexicons import load_lexicons


def test_languages_and_scripts() -> None:
    det = LanguageDetector(load_lexicons().stopwords)
    assert det.detect("The cat is on the mat and it is happy with the sun.") == "en"
    assert det.detect("Le chat est sur le tapis et il est content dans la maison.") == "fr"
    assert det.detect("Der Hund ist nicht in dem Haus, und die Katze ist auf dem Dach.") == "de"
    assert det.detect("El perro está en la casa y no quiere salir con los niños.") == "es"
    assert det.detect("Собака спит на диване.") == "script:Cyrillic"
    assert det.detect("12345 !!!") == "und"
    assert det.detect("Velford") == "und"  # too short to tell
    assert script_of("東京でラーメンを食べた") == "Kana"
