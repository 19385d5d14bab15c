"""Properties of folding, over generated text: the fast fold is the reference fold, and folding is idempotent."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.text import Document, Folded, fold

# Characters where folding has its corners: cases, accents (precomposed and combining), ß and ligatures,
# Cyrillic ё/й, Persian and Arabic forms and digits, CJK next to Latin, punctuation of every kind.
CORNERS = list("aZ09 ,.-’'«»\n\t\u00a0\u200b\u3000…½ßﬁİıÅÉéèëёЁйЙалАБгę朝鮮鲜北한국が゛ガヴي ی ک ۲ ١ ςΣᾴ，。「」") + [
    "\u0301", "\u0308", "\u0651", "\u05b8",
]
TEXT = st.text(st.sampled_from(CORNERS) | st.characters(codec="utf-8"), max_size=40)


@given(TEXT)
@settings(max_examples=400)
def test_the_fast_fold_is_the_reference_fold(text: str) -> None:
    fast, reference = Folded.of(text), Folded.reference(text)
    assert fast.text == reference.text
    assert [fast.origin(i) for i in range(len(fast.text))] == [reference.origin(i) for i in range(len(fast.text))]
    assert [fast.folded_index(i) for i in range(len(text) + 1)] == [
        reference.folded_index(i) for i in range(len(text) + 1)
    ]


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
