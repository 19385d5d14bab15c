"""A fuzz run over the feed and HTML parsers, seeded with ../shared/corpus: a parser at a hostile edge
returns `Parsed(articles, problems)` and never raises, whatever the bytes.

Each example takes a corpus file and damages it: bytes flipped, a cut, a hostile fragment spliced in (an
entity bomb, an external entity, a bare `&`, a NUL, a stray BOM, a huge attribute). 60 examples in CI;
MONITOR_LONG_TESTS=1 runs 3,000.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import HtmlSourceConfig, SourceConfig
from monitor.models import FetchResult, Parsed
from monitor.sources import kind_of

CORPUS = Path(__file__).parents[2] / "shared" / "corpus"
LONG = os.environ.get("MONITOR_LONG_TESTS") == "1"
EXAMPLES = 3000 if LONG else 60
FRAGMENTS = [
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>&b;',
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>&e;', b"&", b"\x00", b"\xef\xbb\xbf", b"]]>",
    b"<![CDATA[", b"<item>", b"</channel>", b'<a href="' + b"x" * 10000 + b'">', b"\xff\xfe", b"&#xD800;",
    b"<entry><title>t</title></entry>", "Пхеньян 북한 «Алабуга»".encode(),
]


def _seeds(folder: str, suffixes: tuple[str, ...]) -> list[Path]:
    found = sorted(p for p in (CORPUS / folder).glob("*") if p.suffix in suffixes) if CORPUS.is_dir() else []
    return found[:200]


FEEDS = _seeds("feeds", (".xml", ".rss", ".atom", ".rdf", ".json"))
PAGES = _seeds("html", (".html", ".htm"))


@st.composite
def damaged(draw: st.DrawFn, seeds: list[Path]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)).read_bytes()[:200_000])
    for _ in range(draw(st.integers(0, 4))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "cut", "splice", "drop"]))
        if action == "flip" and data:
            data[min(where, len(data) - 1)] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[where:]
        elif action == "splice":
            data[where:where] = draw(st.sampled_from(FRAGMENTS))
        elif action == "drop":
            del data[where:where + draw(st.integers(1, 200))]
    return bytes(data)


def _fetched(content: bytes, content_type: str) -> FetchResult:
    return FetchResult("https://example.org/feed", 200, content, {"content-type": content_type},
                       datetime(2025, 6, 19, tzinfo=UTC))


def _check(parsed: Parsed) -> None:
    assert isinstance(parsed, Parsed)
    for article in parsed.articles:
        assert isinstance(article.title, str) and isinstance(article.content, str)


@pytest.mark.skipif(not FEEDS, reason="../shared/corpus/feeds is not there")
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=damaged(FEEDS))
def test_the_feed_parser_never_raises(data: bytes) -> None:
    _check(kind_of("rss").parse(_fetched(data, "application/xml"), SourceConfig(name="fuzz",
                                                                                 url="https://example.org/feed")))


@pytest.mark.skipif(not PAGES, reason="../shared/corpus/html is not there")
@settings(max_examples=EXAMPLES // 2, deadline=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=damaged(PAGES))
def test_the_html_parser_never_raises(data: bytes) -> None:
    source = HtmlSourceConfig(name="fuzz", url="https://example.org/", item="article, li, div.item",
                              date="time", summary="p")
    _check(kind_of("html").parse(_fetched(data, "text/html; charset=utf-8"), source))
