"""Properties of folding, over generated text: the fast fold is the reference fold, and folding is idempotent."""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right

from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.text import Document, Folded, fold, is_cjk

# Characters where folding has its corners: cases, accents (precomposed and combining), ß and ligatures,
# Cyrillic ё/й, Persian and Arabic forms and digits, CJK next to Latin, punctuation of every kind.
CORNERS = list("aZ09 ,.-’'«»\n\t\u00a0\u200b\u3000…½ßﬁİıÅÉéèëёЁйЙалАБгę朝鮮鲜北한국が゛ガヴي ی ک ۲ ١ ςΣᾴ，。「」") + [
    "\u0301", "\u0308", "\u0651", "\u05b8",
]
TEXT = st.text(st.sampled_from(CORNERS) | st.characters(codec="utf-8"), max_size=40)


@given(TEXT)
@settings(max_examples=400)
@example("a한국")  # a Latin letter right before the text's first Hangul
@example("2025년에 ab北한c 한")
def test_the_fast_fold_is_the_reference_fold(text: str) -> None:
    fast, reference = Folded.of(text), Folded.reference(text)
    assert fast.text == reference.text
    assert [fast.origin(i) for i in range(len(fast.text))] == [reference.origin(i) for i in range(len(fast.text))]
    assert [fast.folded_index(i) for i in range(len(text) + 1)] == [
        reference.folded_index(i) for i in range(len(text) + 1)
    ]


ENGLISH = "The U.S. Treasury SANCTIONED Alabuga's suppliers on Friday, officials said. " * 4


@given(st.integers(0, len(ENGLISH)), st.text(st.sampled_from(CORNERS), max_size=4))
def test_the_fast_fold_is_the_reference_fold_in_mostly_ascii_text(at: int, inserted: str) -> None:
    text = ENGLISH[:at] + inserted + ENGLISH[at:]  # a few characters beyond ASCII: the byte table's path
    fast, reference = Folded.of(text), Folded.reference(text)
    assert fast.text == reference.text
    assert [fast.origin(i) for i in range(len(fast.text))] == [reference.origin(i) for i in range(len(fast.text))]


@given(TEXT)
def test_folding_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(TEXT)
def test_folding_ignores_case_and_unicode_normal_forms(text: str) -> None:
    assert fold(text.upper().lower()) == fold(text.lower())
    # Accents are dropped in the alphabets (below U+0700); decomposed kana and Hangul stay decomposed.
    alphabetic = "".join(c for c in text if ord(c) < 0x0700)
    assert fold(unicodedata.normalize("NFD", alphabetic)) == fold(unicodedata.normalize("NFC", alphabetic))


@given(TEXT)
def test_spans_map_back_inside_the_original(text: str) -> None:
    doc = Document.of(text)
    for i in range(len(doc.text)):
        start, end = doc.folded.original_span(i, i + 1)
        assert 0 <= start < end <= len(text)
        assert fold(text[start:end]).replace(" ", "") or doc.text[i] == " "


@given(TEXT)
@example("sent 朝鲜 troops to 北한 2025년에")
def test_each_word_is_a_run_between_spaces_or_one_cjk_character(text: str) -> None:
    doc = Document.of(text)
    starts = [m.start() for m in re.finditer(r"[^ ]", doc.text) if m.start() == 0 or doc.text[m.start() - 1] == " "
              or is_cjk(doc.text[m.start()])]
    assert [doc.word_at(i) for i in range(len(doc.text))] == [bisect_right(starts, i) - 1 for i in range(len(doc.text))]


@given(TEXT)
@example("The U.S. acted. Kyiv asked!\n\nA new paragraph. 朝鲜派兵。俄罗斯")
def test_a_folded_offset_is_in_the_sentence_of_its_original_character(text: str) -> None:
    doc = Document.of(text)
    sentences = [doc.folded.folded_index(s) for s in doc.original_sentence_starts]
    paragraphs = [doc.folded.folded_index(p) for p in doc.original_paragraph_starts]
    for i in range(len(doc.text)):
        assert doc.sentence_at(i) == bisect_right(sentences, i) - 1
        assert doc.paragraph_at(i) == bisect_right(paragraphs, i) - 1
