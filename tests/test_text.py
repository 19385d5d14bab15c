"""Folding, structure and URLs: the ground the rule engine stands on."""

import pytest

from monitor.text import Document, Folded, canonical_url, content_hash, fold, registered_domain


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
        ("北朝鮮が", "北朝鮮が"),  # kana voicing marks are letters, not accents
        ("북한이", "북한이"),  # Hangul stays composed
        ("کشور ی", "كشور ي"),  # Persian letter forms fold to the Arabic ones
        ("۲۵۰۰۰", "25000"),
        ("  many\n\tspaces  ", "many spaces"),
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
    sentences = [doc.original[a:b] for a, b in map(doc.original_sentence, range(len(doc.sentence_starts)))]
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
    assert Document.of(text).sentence_starts == (0,)


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
