"""Folding, structure and URLs: the ground the rule engine stands on."""

import pytest

from monitor.text import (
    _TRADITIONAL,
    Document,
    Folded,
    _may_hold_cjk,
    canonical_url,
    content_hash,
    fold,
    fold_char,
    is_cjk,
    registered_domain,
    script_language,
)


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("Shahed-136", "shahed 136"),
        ("ALABUGA", "alabuga"),
        ("Алабуге", "алабуге"),
        ("Ёлка", "елка"),
        ("Café «Noël»", "cafe noel"),
        ("Kim Jong-un’s", "kim jong un s"),
        ("U.S. Treasury", "u s treasury"),
        ("Straße", "strasse"),
        ("北朝鮮が", "北朝鲜が"),  # kana stays; the traditional 鮮 folds to the simplified 鲜
        ("ガ", "ガ"),  # kana voicing marks are letters, not accents
        ("俄羅斯無人機", "俄罗斯无人机"),  # traditional Chinese = simplified
        ("Å", "a"),  # the angstrom sign folds like the letter
        ("shahed朝鲜", "shahed 朝鲜"),  # a Han character next to a Latin letter is a word boundary
        ("북한이", "북한이"),  # Hangul stays composed
        ("کشور ی", "كشور ي"),  # Persian letter forms fold to the Arabic ones
        ("۲۵۰۰۰", "25000"),
        ("  many\n\tspaces  ", "many spaces"),
        ("a…b", "a b"),
    ],
)
def test_fold(written: str, folded: str) -> None:
    assert fold(written) == folded


def test_folding_is_idempotent() -> None:
    text = "North Korea’s «Алабуга» — 북한 Shahed-136, ÉLYSÉE"
    assert fold(fold(text)) == fold(text)


def test_folded_text_maps_back_to_the_original() -> None:
    original = "Die Straße nach Алабуге"
    folded = Folded.of(original)
    start = folded.text.index("алабуге")
    a, b = folded.original_span(start, start + len("алабуге"))
    assert original[a:b] == "Алабуге"


def test_sentences_and_paragraphs() -> None:
    doc = Document.of("The U.S. Treasury acted. Kyiv asked for more!\n\nA new paragraph. 朝鲜派兵。俄罗斯")
    sentences = [doc.original[a:b] for a, b in map(doc.original_sentence, range(len(doc.original_sentence_starts)))]
    assert sentences == ["The U.S. Treasury acted.", "Kyiv asked for more!", "A new paragraph.", "朝鲜派兵。", "俄罗斯"]
    assert doc.paragraph_at(doc.text.index("new")) == 1
    assert doc.sentence_at(doc.text.index("kyiv")) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Am 19. Juni 2024 unterzeichneten Putin und Kim den Vertrag.",  # an ordinal date
        "Režīms 2024. gada oktobrī nosūtīja vienības uz Kursku.",  # a year before a lower-case word
        "Северная Корея доставила более 1 тыс. контейнеров с боеприпасами.",  # an abbreviation
        "Gen. Kim met Lt. Col. Ivanov in the U.S. embassy.",
    ],
)
def test_dots_that_do_not_end_a_sentence(text: str) -> None:
    assert Document.of(text).original_sentence_starts == (0,)


def test_words_count_han_characters_one_by_one() -> None:
    doc = Document.of("sent 朝鲜 troops")
    assert doc.word_at(doc.text.index("troops")) == 3


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Example.COM:443/a/b/?utm_source=x&id=3#top", "https://example.com/a/b?id=3"),
        ("http://example.com:8080/x?fbclid=1&gclid=2", "http://example.com:8080/x"),
        ("https://example.com/news/story/amp", "https://example.com/news/story"),
        ("https://example.com/news/story?amp=1", "https://example.com/news/story"),
        ("https://example.com", "https://example.com/"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_content_hash_ignores_layout() -> None:
    assert content_hash("North  Korea", "sends\nworkers") == content_hash("north korea", "sends workers")
    assert content_hash("North Korea") != content_hash("South Korea")


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://news.bbc.co.uk/x", "bbc.co.uk"),
        ("https://m.yna.co.kr/view/1", "yna.co.kr"),
        ("https://www.reuters.com/world/", "reuters.com"),
        ("https://kyivindependent.com/a", "kyivindependent.com"),
        ("http://127.0.0.1:8080/feed", "127.0.0.1"),
    ],
)
def test_registered_domain(url: str, domain: str) -> None:
    assert registered_domain(url) == domain


def test_han_and_hangul_fold_to_themselves_but_for_traditional_forms() -> None:
    """The fast fold takes these ranges as they are (see `_REGULAR` in text.py)."""
    changed = {chr(c) for c in [*range(0xAC00, 0xD7A4), *range(0x4E00, 0xA000)] if fold_char(chr(c)) != chr(c)}
    assert changed == set(_TRADITIONAL)


def test_lower_case_first_folds_alike() -> None:
    """The fast fold lower-cases the whole text before folding characters one by one."""
    different = [hex(c) for c in range(0x30000) if not 0xD800 <= c <= 0xDFFF
                 and len(chr(c).lower()) == 1 and fold_char(chr(c)) != fold_char(chr(c).lower())]
    assert different == []


def test_the_byte_check_finds_every_character_that_is_or_folds_to_cjk() -> None:
    missed = [hex(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF
              and (is_cjk(chr(c)) or any(is_cjk(x) for x in fold_char(chr(c))))
              and not _may_hold_cjk(chr(c).encode())]
    assert missed == []
    assert not _may_hold_cjk("“Alabuga” — Алабуга, Ελαμπούγκα…".encode())


@pytest.mark.parametrize("lang", ["ko", "ja", "zh", "uk", "ru", "bg", "ar", "fa", "he", "el"])
def test_script_tells_the_language(lang: str) -> None:
    texts = {"ko": "북한이 노동자를 보냈다", "ja": "北朝鮮が兵士を派遣した", "zh": "朝鲜向俄罗斯派兵",
             "uk": "Північна Корея надіслала",
             "ru": "Северная Корея отправила рабочих на заводы", "bg": "Северна Корея изпрати войници със съюзник ъ",
             "ar": "كوريا الشمالية ترسل عمالا", "fa": "کره شمالی کارگران را فرستاد", "he": "צפון קוריאה שלחה",
             "el": "Η Βόρεια Κορέα έστειλε"}
    assert script_language(texts[lang]) == lang


def test_latin_script_is_not_guessed() -> None:
    assert script_language("Nordkorea schickt Arbeiter") is None
    assert script_language("") is None
