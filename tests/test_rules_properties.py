"""Matching does not depend on case, accents or the width of whitespace (hypothesis-generated texts)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.models import Article
from monitor.rules import Matcher, load_rules

PACK = Matcher(load_rules(Path(__file__).parents[1] / "rules"))

WORDS = [
    "North", "Korea", "DPRK", "Pyongyang", "will", "send", "sent", "25,000", "workers", "to", "the", "Alabuga",
    "drone", "plant", "factory", "in", "Tatarstan", "Russia", "Russian", "Shahed", "Geran-2", "production", "troops",
    "Kursk", "shells", "missiles", "sanctions", "imposed", "on", "individuals", "entities", "Treasury", "Iran",
    "supplied", "КНДР", "рабочих", "Алабугу", "направит", "Северной", "Кореи", "북한", "노동자", "朝鲜", "派兵",
    "俄罗斯", "may", "denied", "Korean", "War", ".", ",",
]
SENTENCES = st.lists(st.sampled_from(WORDS), min_size=3, max_size=40).map(" ".join)
SPACES = st.lists(st.sampled_from([" ", "  ", "\t", "\u00a0", " \t "]), min_size=60, max_size=60)


def matched(text: str) -> list[tuple[str, tuple[str, ...]]]:
    article = Article(source="t", guid="1", url="", title="", content=text)
    return [(m.rule_id, m.entities) for m in PACK.match(article)]


def with_accents(text: str) -> str:
    """Latin vowels with an accent, half of them precomposed, half combining."""
    table = {"a": "á", "e": "e\u0301", "o": "ö", "u": "u\u0308", "i": "î"}
    return "".join(table.get(c, c) for c in text)


@given(SENTENCES.map(lambda s: s.replace(" .", " ;")), st.randoms())
@settings(max_examples=150, deadline=None)
def test_case_does_not_matter(text: str, random: object) -> None:
    # Without full stops: a capital after one starts a sentence ("2024. gada" does not), by design.
    flipped = "".join(c.upper() if random.random() < 0.5 else c.lower() for c in text)  # type: ignore[attr-defined]
    assert matched(flipped) == matched(text)


@given(SENTENCES)
@settings(max_examples=150, deadline=None)
def test_accents_do_not_matter(text: str) -> None:
    assert matched(with_accents(text)) == matched(text)


@given(SENTENCES, SPACES)
@settings(max_examples=150, deadline=None)
def test_the_width_of_whitespace_does_not_matter(text: str, spaces: list[str]) -> None:
    words = text.split(" ")
    wide = "".join(w + spaces[i % len(spaces)] for i, w in enumerate(words))
    assert matched(wide) == matched(text)


def test_the_generator_reaches_matches() -> None:
    """The properties above are worth something only if generated texts do match."""
    assert matched("North Korea will send 25,000 workers to the Alabuga drone plant in Tatarstan .")
