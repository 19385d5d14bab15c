"""Every file of the shared feed corpus through `rss.parse`, and what its origin project states.

The corpus (../shared/corpus/feeds, see its README.md) holds real feeds and the edge cases of
feedparser's, miniflux's and rss-parser's own suites; MANIFEST.tsv says where each file came from
and what it should yield. Files are read as bytes: decoding is part of what is under test. The
expectations are read from MANIFEST.tsv and the *.expected.json files, and translated to our model
(`Parsed` of plain-text `Article`s) here; where our model cannot express one, a table below says so.
"""

from __future__ import annotations

import ast
import csv
import functools
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from monitor.config import SourceConfig
from monitor.models import Article, FetchResult, Parsed
from monitor.sources import rss

FEEDS = Path(__file__).parents[1].parent / "shared" / "corpus" / "feeds"
if not (FEEDS / "MANIFEST.tsv").is_file():
    pytest.skip(f"no feed corpus at {FEEDS} (CI checks out ../shared beside the repo)", allow_module_level=True)

TIME_LIMIT = 5.0  # seconds per file; the largest (190 kB) takes about 0.15 s
SOURCE = SourceConfig(name="corpus", url="https://corpus.example/")
FETCHED_AT = datetime(2024, 5, 1, tzinfo=UTC)
INPUTS = sorted(
    path.name
    for path in FEEDS.iterdir()
    if path.name != "MANIFEST.tsv" and not path.name.endswith((".expected.json", ".ground-truth.json"))
)


@functools.cache
def manifest() -> dict[str, dict[str, str]]:
    with (FEEDS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as file:
        rows = csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {row["file"]: row for row in rows}


def harness_content_type(body: bytes) -> str:
    """The Content-Type that feedparser's test harness sends with a file: its `Header:` line."""
    match = re.search(rb"^Header:\s*Content-type:\s*(.+?)\s*$", body, re.MULTILINE | re.IGNORECASE)
    return match.group(1).decode("ascii") if match else ""


@functools.cache
def parsed(name: str) -> tuple[Parsed, float]:
    """`rss.parse` of one corpus file, and the seconds it took (once per file per session)."""
    body = (FEEDS / name).read_bytes()
    content_type = harness_content_type(body) if name.startswith("feedparser__") else ""
    headers = {"content-type": content_type} if content_type else {}
    result = FetchResult(
        url=f"https://corpus.example/feeds/{name}", status=200, content=body, headers=headers, fetched_at=FETCHED_AT
    )
    started = time.perf_counter()
    answer = rss.parse(result, SOURCE)
    return answer, time.perf_counter() - started


def one_line(text: str) -> str:
    return " ".join(text.split())


def text_of(fragment: str) -> str:
    """An expected value as our plain text: markup and references resolved, whitespace normalised.
    BeautifulSoup directly, not our html_to_text, so the two sides do not share a bug."""
    return one_line(BeautifulSoup(fragment, "html.parser").get_text())


def all_text(answer: Parsed) -> str:
    return one_line(" ".join(f"{a.title} {a.summary} {a.content}" for a in answer.articles))


def flagged(answer: Parsed) -> bool:
    """What feedparser calls bozo: we said the document is ill-formed or not a feed at all."""
    return any(p.startswith(("ill-formed feed", "not an RSS/Atom feed")) for p in answer.problems)


# --- 1. nothing crashes, nothing hangs ----------------------------------------------------------


def test_every_input_has_a_manifest_row() -> None:
    assert set(INPUTS) <= set(manifest()), "a corpus file without provenance"
    assert len(INPUTS) == 77  # as the corpus README counts them


@pytest.mark.parametrize("name", INPUTS)
def test_parses_without_raising_in_time(name: str) -> None:
    answer, seconds = parsed(name)
    assert isinstance(answer, Parsed)
    assert seconds < TIME_LIMIT
    assert all(isinstance(problem, str) and problem for problem in answer.problems)
    for article in answer.articles:
        assert isinstance(article, Article) and article.source == "corpus" and article.guid
        assert article.url == "" or article.url.startswith(("http://", "https://"))
        assert article.url or article.title or article.summary or article.content
        assert article.published is None or article.published.utcoffset() == timedelta(0)
        assert article.fetched_at == FETCHED_AT


def test_a_redirect_page_is_a_clean_not_a_feed() -> None:
    # rss-parser's own test expects an 'unrecognized feed' error for this HTML page.
    assert parsed("rss-parser__unrecognized.rss")[0] == Parsed(
        problems=("not an RSS/Atom feed (looks like HTML); check the URL",)
    )


# --- 2a. rss-parser: its own parse of the same files --------------------------------------------

RSS_PARSER = sorted(name for name in INPUTS if name.startswith("rss-parser__"))
RSS_PARSER_EXPECTED = {
    name: FEEDS / (name.rsplit(".", 1)[0] + ".expected.json")
    for name in RSS_PARSER
    if (FEEDS / (name.rsplit(".", 1)[0] + ".expected.json")).is_file()
}

# rss-parser__encoding-gb2312.xml gives `<pubDate>2018-09-18 14:38:10</pubDate>`: no zone. rss-parser
# read it in the zone of the machine that wrote the expected file (UTC+8, which happens to be QQ's own
# zone); we read a zone-less date as UTC, as feedparser does. SourceConfig has no time zone to say
# otherwise, so this expectation cannot be met: every date is 8 hours later than rss-parser's.
ZONELESS_DATE_OFFSET = {"rss-parser__encoding-gb2312.xml": timedelta(hours=8)}


def expected_items(name: str) -> list[dict[str, Any]]:
    raw = RSS_PARSER_EXPECTED[name].read_bytes()
    try:
        document = json.loads(raw)
    except UnicodeDecodeError:  # rss-parser__encoding.expected.json is itself latin-1
        document = json.loads(raw.decode("latin-1"))
    items: list[dict[str, Any]] = document["feed"]["items"]
    return items


def readable(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # We skip (and report) an entry with no link, title or text: nothing to match, nothing to link.
    # rss-parser keeps it, so incomplete-fields.atom and missing-fields.atom count 1 item there, 0 here.
    return [i for i in items if i.get("title") or i.get("link") or i.get("content") or i.get("summary")]


@pytest.mark.parametrize("name", sorted(RSS_PARSER_EXPECTED))
def test_rss_parser_item_count(name: str) -> None:
    items, answer = expected_items(name), parsed(name)[0]
    assert len(answer.articles) == len(readable(items))
    if len(readable(items)) < len(items):
        assert any(p.endswith("skipped: no link, title, summary or content") for p in answer.problems)


@pytest.mark.parametrize("name", sorted(RSS_PARSER_EXPECTED))
def test_rss_parser_titles(name: str) -> None:
    items, answer = readable(expected_items(name)), parsed(name)[0]
    for item, article in zip(items, answer.articles, strict=True):
        if name == "rss-parser__uolNoticias.rss":
            # rss-parser decoded these latin-1 bytes as UTF-8: each U+FFFD there stands for one
            # character we decode correctly ("simula��es" is "simulações").
            wildcard = "".join("." if c == "\ufffd" else re.escape(c) for c in one_line(item["title"]))
            assert re.fullmatch(wildcard, article.title), (item["title"], article.title)
            assert "\ufffd" not in article.title
        else:
            # rss-parser keeps markup and references as written (craigslist: "&#x0024;4300 3bd
            # 1930ft<sup>2</sup>"); ours are plain text ("$4300 3bd 1930ft2").
            assert article.title == text_of(item.get("title") or "")


@pytest.mark.parametrize("name", sorted(RSS_PARSER_EXPECTED))
def test_rss_parser_links(name: str) -> None:
    items, answer = readable(expected_items(name)), parsed(name)[0]
    assert [article.url for article in answer.articles] == [item.get("link", "") for item in items]


@pytest.mark.parametrize(
    "name", sorted(n for n in RSS_PARSER_EXPECTED if any("isoDate" in i for i in expected_items(n)))
)
def test_rss_parser_dates_as_instants(name: str) -> None:
    items, answer = readable(expected_items(name)), parsed(name)[0]
    offset = ZONELESS_DATE_OFFSET.get(name, timedelta(0))
    for item, article in zip(items, answer.articles, strict=True):
        expected = datetime.fromisoformat(item["isoDate"].replace("Z", "+00:00"))
        assert article.published is not None, item
        # feedparser's struct_time holds whole seconds; feedburner's dates carry milliseconds.
        assert abs(article.published - (expected + offset)) < timedelta(seconds=1), (item, article.published)


# --- 2b. miniflux: the decoded text contains the quoted strings ---------------------------------

MINIFLUX = sorted(name for name in INPUTS if name.startswith("miniflux__"))

# Strings the notes quote from the channel's own title or description. `Article` carries no
# feed-level field, so parse() has nowhere to return them: these expectations cannot be checked.
# (Golem.de does occur in the text of Golem's articles, which says nothing about the channel title.)
FEED_LEVEL_ONLY: dict[str, tuple[str, ...]] = {
    "miniflux__encoding_WINDOWS-1251.xml": ("Новый цитатник Рунета",),
    "miniflux__encoding_ISO-8859-1.xml": ("Golem.de",),
    "miniflux__rdf_UTF8.xml": ("heise online News",),
    "miniflux__small_atom.xml": ("Recent Commits to v2:main",),
    "miniflux__large_rss.xml": ("Artificial truth",),
    "miniflux__large_atom.xml": ("Artificial truth",),
    "miniflux__koi8r.xml": ("Пример RSS ленты", "Тестовая лента в кодировке KOI8-R"),  # title, description
    "miniflux__iso-8859-1.xml": ("Café",),  # the file has a channel and no item
    "miniflux__windows-1252.xml": ("Euro €",),  # likewise
    "miniflux__windows-1252-incorrect-prolog.xml": ("Euro €",),  # likewise
}

# UTF-8 read as latin-1 or windows-1252: a lead byte's character, then a continuation byte's.
MOJIBAKE = re.compile("[ÃÂÐÑ][\x80-\xbf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ]")


def quoted(note: str) -> tuple[list[str], list[str]]:
    """The strings a manifest note quotes: those the text must contain, and those it must not."""
    if "our parser:" in note:  # what follows is the expectation on us, the rest on the origin
        note = note.split("our parser:", 1)[1]
    must: list[str] = []
    must_not: list[str] = []
    for match in re.finditer(r"'([^']+)'", note):
        before = note[: match.start()].rstrip()
        (must_not if before.endswith(("not", "(not")) else must).append(match.group(1))
    return must, must_not


def pattern(quote: str) -> re.Pattern[str]:
    # 'Цитата #NNNNN' stands for any quote number.
    return re.compile(re.sub(r"N{3,}", r"\\d+", re.escape(one_line(quote))))


@pytest.mark.parametrize("name", MINIFLUX)
def test_miniflux_decoded_text(name: str) -> None:
    must, must_not = quoted(manifest()[name]["expected_notes"])
    text = all_text(parsed(name)[0])
    feed_level = FEED_LEVEL_ONLY.get(name, ())
    assert set(feed_level) <= set(must), "FEED_LEVEL_ONLY names a string the manifest does not quote"
    for quote in must:
        if quote not in feed_level:
            assert pattern(quote).search(text), quote
    for quote in must_not:
        assert quote not in text
    assert "\ufffd" not in text or name == "miniflux__iso88591_utf8_mismatch.xml"
    assert not MOJIBAKE.search(text), MOJIBAKE.search(text)


# Notes in prose, translated by hand: (what the note says, the check on our answer).
MINIFLUX_PROSE: dict[str, tuple[str, Callable[[Parsed], bool]]] = {
    "miniflux__encoding_ISO-8859-1.xml": (
        "umlauts must decode from ISO-8859-1",
        lambda answer: bool(re.search("[äöüÄÖÜß]", all_text(answer))),
    ),
    "miniflux__encoding_WINDOWS-1251.xml": (
        "pubDate RFC 822 with +0300",
        lambda answer: bool(answer.articles) and all(a.published for a in answer.articles),
    ),
    "miniflux__no_encoding_ISO-8859-1.xml": (
        "best result decodes accents via charset sniffing",
        lambda answer: "é" in all_text(answer),
    ),
    "miniflux__rdf_UTF8.xml": (
        "items are siblings of <channel> (RDF layout); 60 <item> elements counted here",
        lambda answer: len(answer.articles) == (FEEDS / "miniflux__rdf_UTF8.xml").read_bytes().count(b"<item>"),
    ),
    "miniflux__urdu_UTF8.xml": (
        "titles/descriptions are Arabic-script Urdu",
        lambda answer: (
            bool(answer.articles) and all(re.search("[\u0600-\u06ff]", a.title + a.summary) for a in answer.articles)
        ),
    ),
    "miniflux__large_atom.xml": (
        "same entries as miniflux__large_rss.xml",
        lambda answer: (
            [(a.title, a.url, a.published) for a in answer.articles]
            == [(a.title, a.url, a.published) for a in parsed("miniflux__large_rss.xml")[0].articles]
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(MINIFLUX_PROSE))
def test_miniflux_prose_expectations(name: str) -> None:
    said, check = MINIFLUX_PROSE[name]
    assert said.split(";")[0].split(" (")[0] in manifest()[name]["expected_notes"]
    assert check(parsed(name)[0]), said


# --- 2c. feedparser: its Python expression over its result, translated --------------------------

FEEDPARSER = sorted(name for name in INPUTS if name.startswith("feedparser__"))


def first(answer: Parsed) -> Article:
    assert answer.articles, "no entry to check"
    return answer.articles[0]


# feedparser's entries[0] paths, as the field of our first article they correspond to.
ENTRY_FIELDS: dict[str, Callable[[Parsed], str]] = {
    "entries[0]['title']": lambda answer: first(answer).title,
    "entries[0]['description']": lambda answer: one_line(first(answer).summary or first(answer).content),
    "entries[0].summary": lambda answer: one_line(first(answer).summary or first(answer).content),
    "entries[0]['content'][0]['value']": lambda answer: one_line(first(answer).content),
    "entries[0].link": lambda answer: first(answer).url,
}

# What the expressions ask that our model has no place for: the channel's own fields, the detected
# charset, the format version, enclosures. These expectations cannot be checked through parse().
NOT_IN_OUR_MODEL = re.compile(r"^(feed\[|encoding ==|version ==|entries\[0\]\['(enclosures|links)'\])")


def expectation(name: str) -> str:
    return manifest()[name]["expected_notes"].rsplit("Expect:", 1)[1].strip()


def clauses(expression: str) -> list[ast.expr]:
    tree = ast.parse(expression, mode="eval").body
    return list(tree.values) if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) else [tree]


def translate(clause: ast.expr) -> Callable[[Parsed], bool] | None:
    """One clause of a feedparser expression as a check on our answer; None if we cannot say it."""
    source = ast.unparse(clause)
    if source in ("1", "bozo", "not bozo"):
        return {"1": lambda _: True, "bozo": flagged, "not bozo": lambda answer: not flagged(answer)}[source]
    if source == "not entries[0].has_key('link')":  # a guid that is not a permalink is no link
        return lambda answer: all(a.url == "" for a in answer.articles)
    if isinstance(clause, ast.Compare) and isinstance(clause.ops[0], ast.Eq):
        left, wanted = clause.left, ast.literal_eval(clause.comparators[0])
        if isinstance(left, ast.Call) and ast.unparse(left.func) == "ord":  # ord(x) == 8230
            left, wanted = left.args[0], chr(wanted)
        field = ENTRY_FIELDS.get(ast.unparse(left))
        if field is not None:
            return lambda answer: (
                field(answer) == (wanted if field is ENTRY_FIELDS["entries[0].link"] else text_of(wanted))
            )
    return None


# "Unguessable characters": which wrong charset the guesser picks decides the garbage. feedparser's
# suite ran without chardet (its fallback, windows-1252, gives a final "Š"); with chardet installed,
# as we ship it, the guess is iso8859-15 and the final character is "©". The mojibake is asserted up
# to that character.
GUESSER_DEPENDENT = {"feedparser__encoding_bozo_linenoise.xml": "â€™â€\x9d"}


@pytest.mark.parametrize("name", FEEDPARSER)
def test_feedparser_expectation(name: str) -> None:
    answer = parsed(name)[0]
    for clause in clauses(expectation(name)):
        if name in GUESSER_DEPENDENT and isinstance(clause, ast.Compare):
            assert first(answer).summary.startswith(GUESSER_DEPENDENT[name])
            continue
        check = translate(clause)
        if check is None:
            assert NOT_IN_OUR_MODEL.match(ast.unparse(clause)), f"untranslated clause: {ast.unparse(clause)}"
        else:
            assert check(answer), (ast.unparse(clause), answer)
