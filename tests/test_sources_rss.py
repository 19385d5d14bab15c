"""The feed parser and its registry: small documents written here, each showing one behaviour.

Real-world files and their stated expectations are in test_corpus_feeds.py.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import sources
from monitor.config import SourceConfig
from monitor.errors import ConfigError
from monitor.models import Article, FetchResult, Parsed
from monitor.sources import known_kinds, parser_for, register, rss
from monitor.sources.markup import html_to_text

FEED_URL = "https://news.example/world/feed.xml"
FETCHED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def fetched(body: str | bytes, content_type: str = "", url: str = FEED_URL) -> FetchResult:
    content = body.encode() if isinstance(body, str) else body
    headers = {"content-type": content_type} if content_type else {}
    return FetchResult(url=url, status=200, content=content, headers=headers, fetched_at=FETCHED_AT)


def parse(body: str | bytes, content_type: str = "", language: str | None = None, url: str = FEED_URL) -> Parsed:
    source = SourceConfig(name="example", url=FEED_URL, language=language)
    return rss.parse(fetched(body, content_type, url), source)


def only(parsed: Parsed) -> Article:
    assert len(parsed.articles) == 1, parsed
    return parsed.articles[0]


LINK = "<link>https://news.example/a</link>"


def rss_item(item: str, channel: str = "") -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Example</title><link>https://news.example/</link>{channel}
<item>{item}</item>
</channel></rss>"""


RSS_20 = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>Example World News</title>
  <link>https://news.example/</link>
  <language>en-US</language>
  <item>
    <title>
      North Korea may send 25,000 workers
      to Russia&#8217;s Alabuga plant
    </title>
    <link>/world/2024/dprk-alabuga</link>
    <guid isPermaLink="false">urn:example:4711</guid>
    <pubDate>Tue, 30 Apr 2024 18:15:00 +0300</pubDate>
    <description><![CDATA[<p>Officials said the <b>first</b> group could arrive by June.</p>
      <p>The plant makes Shahed-type drones.<br>More to follow.</p><script>track()</script>]]></description>
    <content:encoded><![CDATA[<p>Officials said the first group could arrive by June.</p>
      <p>Full story: the plant in Yelabuga makes drones &amp; parts.</p>]]></content:encoded>
  </item>
</channel>
</rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de-DE" xml:base="https://agency.example/de/">
  <title>Agentur</title>
  <id>urn:agency</id>
  <updated>2024-04-30T10:00:00Z</updated>
  <entry xml:lang="fr-CA">
    <title type="html">Sanctions: &lt;em&gt;nouvelles&lt;/em&gt; mesures</title>
    <link rel="alternate" href="articles/42.html"/>
    <id>tag:agency.example,2024:42</id>
    <updated>2024-04-30T09:30:00+02:00</updated>
    <summary type="html">&lt;p&gt;Le Conseil a adopté un paquet.&lt;/p&gt;</summary>
    <content type="html">&lt;p&gt;Le Conseil a adopté un paquet.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Zweiter Eintrag</title>
    <link href="/absolut/7"/>
    <id>tag:agency.example,2024:7</id>
    <published>2024-04-29T08:00:00Z</published>
    <updated>2024-04-30T08:00:00Z</updated>
  </entry>
</feed>"""


# --- the registry -------------------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy of the registry for this test, so registrations here do not leak into others."""
    monkeypatch.setattr(sources, "_KINDS", dict(sources._KINDS))


def test_rss_is_registered_like_any_other_kind() -> None:
    assert "rss" in known_kinds()
    assert parser_for("rss") is rss.parse


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as raised:
        parser_for("x")
    assert raised.value.problems == ['unknown source kind "x" (known: gdelt, html, rss, sanctions, telegram)']


@pytest.mark.usefixtures("registry")
def test_a_third_party_kind_registers_through_the_same_call() -> None:
    def pigeon(result: FetchResult, source: SourceConfig) -> Parsed:
        return Parsed()

    register("carrier-pigeon", pigeon)
    register("carrier-pigeon", pigeon)  # importing a plugin twice is harmless
    assert parser_for("carrier-pigeon") is pigeon
    assert known_kinds() == ("carrier-pigeon", "gdelt", "html", "rss", "sanctions", "telegram")
    with pytest.raises(ValueError, match='"rss" is already registered'):
        register("rss", pigeon)


# --- RSS 2.0 and Atom ---------------------------------------------------------------------------


def test_rss_item_becomes_a_plain_text_article() -> None:
    parsed = parse(RSS_20)
    assert parsed.problems == ()
    assert only(parsed) == Article(
        source="example",
        guid="urn:example:4711",
        url="https://news.example/world/2024/dprk-alabuga",  # relative link, resolved
        title="North Korea may send 25,000 workers to Russia\u2019s Alabuga plant",
        summary="Officials said the first group could arrive by June.\n\n"
        "The plant makes Shahed-type drones.\nMore to follow.",
        content="Officials said the first group could arrive by June.\n\n"
        "Full story: the plant in Yelabuga makes drones & parts.",
        published=datetime(2024, 4, 30, 15, 15, tzinfo=UTC),  # +0300, as UTC
        fetched_at=FETCHED_AT,
        language="en",  # the channel's en-US
    )


def test_atom_entries_with_xml_base_and_xml_lang() -> None:
    parsed = parse(ATOM)
    first, second = parsed.articles
    assert parsed.problems == ()
    assert first.url == "https://agency.example/de/articles/42.html"
    assert first.title == "Sanctions: nouvelles mesures"
    assert first.language == "fr"  # the entry's own fr-CA beats the feed's de-DE
    assert first.published == datetime(2024, 4, 30, 7, 30, tzinfo=UTC)  # only <updated>: used
    # The same text as summary and content is kept once, in content.
    assert (first.summary, first.content) == ("", "Le Conseil a adopté un paquet.")
    assert second.url == "https://agency.example/absolut/7"
    assert second.language == "de"
    assert second.published == datetime(2024, 4, 29, 8, 0, tzinfo=UTC)  # published beats updated


@pytest.mark.parametrize(
    ("link", "page_url", "expected"),
    [
        ("/a/1", FEED_URL, "https://news.example/a/1"),
        ("a/1", FEED_URL, "https://news.example/world/a/1"),
        ("//cdn.example/a/1", FEED_URL, "https://cdn.example/a/1"),
        ("https://other.example/a", FEED_URL, "https://other.example/a"),
        ("a/1", "https://moved.example/feeds/rss", "https://moved.example/feeds/a/1"),  # final URL
        ("javascript:alert(1)", FEED_URL, ""),  # never a link in an alert
        ("mailto:desk@news.example", FEED_URL, ""),
        ("http://[broken", FEED_URL, ""),
    ],
)
def test_links_are_resolved_against_the_document_url(link: str, page_url: str, expected: str) -> None:
    article = only(parse(rss_item(f"<title>t</title><link>{link}</link>"), url=page_url))
    assert article.url == expected


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Tue, 30 Apr 2024 18:15:00 +0300", datetime(2024, 4, 30, 15, 15, tzinfo=UTC)),
        ("Tue, 30 Apr 2024 18:15:00 GMT", datetime(2024, 4, 30, 18, 15, tzinfo=UTC)),
        ("Tue, 30 Apr 2024 18:15:00 UTC", datetime(2024, 4, 30, 18, 15, tzinfo=UTC)),
        ("2024-04-30T18:15:00-05:00", datetime(2024, 4, 30, 23, 15, tzinfo=UTC)),
        # Month and weekday names in the site's language, as uolNoticias writes them:
        ("Seg, 24 Set 2018 19:42:40 -0300", datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)),
        ("Di, 03 Dez 2019 08:00:00 +0100", datetime(2019, 12, 3, 7, 0, tzinfo=UTC)),
        ("mer., 12 févr. 2020 10:00:00 +0100", datetime(2020, 2, 12, 9, 0, tzinfo=UTC)),
        ("Вт, 30 апр 2024 18:15:00 +0300", datetime(2024, 4, 30, 15, 15, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_dates_become_utc(date: str, expected: datetime | None) -> None:
    article = only(parse(rss_item(f"<title>t</title><pubDate>{date}</pubDate>")))
    assert article.published == expected
    if article.published is not None:
        assert article.published.utcoffset() is not None and not article.published.utcoffset()


def test_markup_in_description_becomes_paragraphs() -> None:
    description = (
        "&lt;div&gt;&lt;h2&gt;Heading&lt;/h2&gt;&lt;p&gt;One &amp;amp; two.&lt;/p&gt;"
        "&lt;style&gt;p {}&lt;/style&gt;&lt;p&gt;Line&lt;br/&gt;break&lt;/p&gt;&lt;/div&gt;"
    )
    article = only(parse(rss_item(f"<title>t</title><description>{description}</description>")))
    assert article.summary == "Heading\n\nOne & two.\n\nLine\nbreak"


def test_a_plain_text_title_is_not_read_as_markup() -> None:
    article = only(parse(rss_item("<title>5 &lt; 6, and a&lt;b</title>")))
    assert article.title == "5 < 6, and a<b"


def test_content_is_the_longest_content_value() -> None:
    item = """<title>t</title><description>Short lead.</description>
      <content:encoded>&lt;p&gt;Short.&lt;/p&gt;</content:encoded>
      <content:encoded>&lt;p&gt;The long body of the story.&lt;/p&gt;</content:encoded>"""
    article = only(parse(rss_item(item)))
    assert (article.summary, article.content) == ("Short lead.", "The long body of the story.")


@pytest.mark.parametrize(
    ("channel", "item", "configured", "expected"),
    [
        ("<language>en-US</language>", "", "de", "en"),  # the feed says: it wins over config
        ("<language>EN_gb</language>", "", None, "en"),
        ("<language>zh-Hans-CN</language>", "", None, "zh"),
        ("", "", "ru-RU", "ru"),  # the feed is silent: the configured language
        ("<language>english</language>", "", "uk", "uk"),  # not a language tag
        ("", "", None, None),
        ("<language>en</language>", "<dc:language>ko</dc:language>", None, "ko"),  # the item's own
    ],
)
def test_language_falls_back_from_entry_to_feed_to_source(
    channel: str, item: str, configured: str | None, expected: str | None
) -> None:
    document = rss_item(f"<title>t</title>{item}", channel).replace(
        "<rss ", '<rss xmlns:dc="http://purl.org/dc/elements/1.1/" '
    )
    assert only(parse(document, language=configured)).language == expected


def test_guid_falls_back_to_link_then_to_a_stable_hash() -> None:
    with_link = only(parse(rss_item("<title>t</title><link>https://news.example/a</link>")))
    assert with_link.guid == "https://news.example/a"
    assert parse(rss_item("<title>t</title><link>https://news.example/a</link>")).problems == ()

    hashed = parse(rss_item("<title>Only a title</title><description>and text</description>"))
    assert only(hashed).guid.startswith("sha256:")
    assert only(hashed).url == ""
    assert hashed.problems == ("1 entry had neither id nor link; guid made from title and text",)
    again = parse(rss_item("<title>Only a title</title><description>and text</description>"))
    other = parse(rss_item("<title>Another title</title><description>and text</description>"))
    assert only(again).guid == only(hashed).guid
    assert only(other).guid != only(hashed).guid


def test_a_guid_that_is_not_a_permalink_is_not_a_link() -> None:
    article = only(parse(rss_item('<title>t</title><guid isPermaLink="false">urn:x:1</guid>')))
    assert (article.guid, article.url) == ("urn:x:1", "")


def test_an_entry_with_nothing_to_read_is_skipped_and_said() -> None:
    parsed = parse(rss_item('<guid isPermaLink="false">urn:x:1</guid>'))
    assert parsed.articles == ()
    assert parsed.problems == ("1 entry skipped: no link, title, summary or content",)


def test_text_xml_without_charset_is_not_held_against_the_feed() -> None:
    # RFC 3023 said us-ascii here; RFC 7303 (its replacement) says: ask the document.
    parsed = parse(rss_item(f"<title>Москва</title>{LINK}"), content_type="text/xml")
    assert (only(parsed).title, parsed.problems) == ("Москва", ())


def test_the_content_type_charset_decodes_the_document() -> None:
    body = rss_item(f"<title>Москва</title>{LINK}").replace(' encoding="utf-8"', "").encode("windows-1251")
    parsed = parse(body, content_type="application/rss+xml; charset=windows-1251")
    assert (only(parsed).title, parsed.problems) == ("Москва", ())


def test_an_ill_formed_feed_gives_what_it_could_and_says_why() -> None:
    parsed = parse(rss_item("<title>Kept</title><link>https://news.example/a?x=1&y=2</link>"))
    assert only(parsed).url == "https://news.example/a?x=1&y=2"
    assert parsed.problems == ("ill-formed feed: not well-formed (invalid token)",)


# --- not a feed ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "problem"),
    [
        (
            "<!DOCTYPE html><html><head><title>Welcome</title></head><body><p>Hi</p></body></html>",
            "text/html; charset=utf-8",
            "not an RSS/Atom feed (looks like HTML); check the URL",
        ),
        (
            "<html><body>Moved</body></html>",
            "",
            "not an RSS/Atom feed (looks like HTML); check the URL",
        ),
        ("", "application/rss+xml", "not an RSS/Atom feed (the body is empty); check the URL"),
        (" \r\n ", "", "not an RSS/Atom feed (the body is empty); check the URL"),
        (
            '<?xml version="1.0"?><note><to>you</to></note>',
            "",
            "not an RSS/Atom feed (no <rss>, <feed> or <rdf:RDF> element); check the URL",
        ),
        # feedparser tries a bytes argument as a file name first; we never let it.
        ("/etc/passwd", "", "not an RSS/Atom feed (no <rss>, <feed> or <rdf:RDF> element); check the URL"),
    ],
)
def test_a_document_that_is_not_a_feed_gives_one_clear_problem(body: str, content_type: str, problem: str) -> None:
    assert parse(body, content_type) == Parsed(articles=(), problems=(problem,))


def test_not_modified_is_nothing_new_and_nothing_wrong() -> None:
    result = FetchResult(url=FEED_URL, status=304, content=b"", headers={}, fetched_at=FETCHED_AT, not_modified=True)
    assert rss.parse(result, SourceConfig(name="example", url=FEED_URL)) == Parsed()


def test_an_unexpected_failure_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("monitor.sources.rss.feedparser.parse", broken)
    assert parse(RSS_20) == Parsed(problems=("could not parse the feed: RuntimeError: boom",))


# --- hostile XML: entity expansion --------------------------------------------------------------

LAUGHS = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))


def hostile(doctype: str, text: str, separator: str = "\n") -> str:
    return (
        f'<?xml version="1.0"?>{separator}<!DOCTYPE rss [{separator}{doctype}{separator}]>{separator}'
        f'<rss version="2.0"><channel><title>t</title><item><title>{text}</title>'
        f"<link>https://news.example/a</link><description>{text}</description></item></channel></rss>"
    )


def parse_quickly(document: str | bytes) -> Parsed:
    started = time.perf_counter()
    parsed = parse(document)
    assert time.perf_counter() - started < 2.0
    return parsed


def all_text(parsed: Parsed) -> str:
    return "\n".join(f"{a.title}\n{a.summary}\n{a.content}" for a in parsed.articles)


LAYOUTS = pytest.mark.parametrize("separator", ["\n", ""], ids=["declarations-on-lines", "one-line-doctype"])


@LAYOUTS
def test_billion_laughs_is_not_expanded(separator: str) -> None:
    parsed = parse_quickly(hostile(f'<!ENTITY lol0 "lol">{LAUGHS}', "&lol9;", separator))
    assert only(parsed).title == "&lol9;"  # left as written
    assert len(all_text(parsed)) < 100
    assert "the DOCTYPE declares entities; they are ignored (never expanded)" in parsed.problems


@LAYOUTS
def test_quadratic_blowup_is_not_expanded(separator: str) -> None:
    # One 100 kB entity used 10,000 times: a 1 GB title from a 1 MB document, were it expanded.
    # feedparser alone keeps such a "safe" (plain text) entity when its declaration starts a line,
    # and its lenient fallback parser, used once expat gives up, expands it without limit: 45 s.
    document = hostile(f'<!ENTITY a "{"x" * 100_000}">', "&a;" * 10_000, separator)
    parsed = parse_quickly(document)
    assert len(all_text(parsed)) <= 2 * len("&a;" * 10_000) + 10
    assert "x" * 100 not in all_text(parsed)


def test_billion_laughs_in_utf16_is_not_expanded() -> None:
    # The DOCTYPE is looked for after decoding, so a multi-byte encoding does not hide it.
    document = hostile(f'<!ENTITY lol0 "lol">{LAUGHS}', "&lol9;", separator="")
    utf16 = document.replace('"1.0"?>', '"1.0" encoding="utf-16"?>', 1).encode("utf-16")
    assert only(parse_quickly(utf16)).title == "&lol9;"


@pytest.mark.parametrize(
    "prolog",
    [
        '<!-- a fake <rss> in a comment --><!DOCTYPE rss [<!ENTITY a "EXPANDED">]>',
        '<?pi <rss>?><!DOCTYPE rss [<!ENTITY a "EXPANDED">]>',
        '<!DOCTYPE rss [<!ENTITY b "x]>y"><!ENTITY a "EXPANDED">]>',  # ]> inside a value
        "<!DOCTYPE rss [<!-- don't ]> --><!ENTITY a 'EXPANDED'>]>",  # quote and ]> in a comment
        '<!doctype rss [<!ENTITY a "EXPANDED">]>',
        '<!DOCTYPE x><!DOCTYPE rss [<!ENTITY a "EXPANDED">]>',  # two of them
    ],
)
def test_every_doctype_of_the_prolog_is_found(prolog: str) -> None:
    document = f'<?xml version="1.0"?>{prolog}<rss version="2.0"><channel><item><title>&a;</title>'
    parsed = parse_quickly(document + "<link>https://news.example/a</link></item></channel></rss>")
    assert only(parsed).title == "&a;"


@pytest.mark.parametrize("separator", ["\n", ""])
def test_external_entities_are_never_read(tmp_path: Path, separator: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    for target in (secret.as_uri(), "file:///etc/passwd"):
        parsed = parse_quickly(hostile(f'<!ENTITY xxe SYSTEM "{target}">', "x &xxe; y", separator))
        text = all_text(parsed)
        assert "TOP-SECRET-MARKER" not in text and "root:" not in text
        assert only(parsed).title == "x &xxe; y"


def test_external_dtd_and_parameter_entities_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.dtd"
    secret.write_text('<!ENTITY leak "TOP-SECRET-MARKER">')
    parameter = hostile(f'<!ENTITY % p SYSTEM "{secret.as_uri()}"> %p;', "&leak;")
    external = parameter.replace(
        f'<!DOCTYPE rss [\n<!ENTITY % p SYSTEM "{secret.as_uri()}"> %p;\n]>',
        f'<!DOCTYPE rss SYSTEM "{secret.as_uri()}">',
    )
    assert external != parameter
    for document in (parameter, external):
        assert "TOP-SECRET-MARKER" not in all_text(parse_quickly(document))


# --- JSON Feed ----------------------------------------------------------------------------------

JSON_FEED = r"""{
  "version": "https:\/\/jsonfeed.org\/version\/1.1",
  "title": "Example JSON",
  "language": "en-GB",
  "items": [
    {"id": 1050315385, "url": "\/2024\/04\/30\/story", "title": "Drones &amp; workers",
     "content_html": "<p>One.</p><p>Two.</p>", "summary": "One.",
     "date_published": "2024-04-30T18:15:00+03:00", "language": "uk-UA"},
    {"id": "b", "external_url": "https://elsewhere.example/x", "content_text": "Plain\n\nbody",
     "date_modified": "2024-04-30T10:00:00Z"},
    "not an object",
    {"id": "c"}
  ]
}"""


def test_json_feed_items_become_articles() -> None:
    parsed = parse(JSON_FEED, content_type="application/feed+json")
    first, second = parsed.articles
    assert first == Article(
        source="example",
        guid="1050315385",
        url="https://news.example/2024/04/30/story",
        title="Drones & workers",
        summary="One.",
        content="One.\n\nTwo.",
        published=datetime(2024, 4, 30, 15, 15, tzinfo=UTC),
        fetched_at=FETCHED_AT,
        language="uk",
    )
    assert (second.url, second.content, second.language) == ("https://elsewhere.example/x", "Plain\n\nbody", "en")
    assert second.published == datetime(2024, 4, 30, 10, 0, tzinfo=UTC)
    assert parsed.problems == (
        "entry 3 skipped: ValueError: an item is not a JSON object",
        "1 entry skipped: no link, title, summary or content",
    )


def test_json_is_recognised_without_a_content_type() -> None:
    assert len(parse(JSON_FEED).articles) == 2


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"items": [', "not a JSON Feed (invalid JSON: "),
        ('{"title": "no items"}', "not a JSON Feed (no items list); check the URL"),
        ("[1, 2]", "not a JSON Feed (no items list); check the URL"),
    ],
)
def test_json_that_is_not_a_json_feed(body: str, problem: str) -> None:
    parsed = parse(body, content_type="application/json")
    assert parsed.articles == ()
    assert len(parsed.problems) == 1 and parsed.problems[0].startswith(problem)


# --- markup -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fragment", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<p>Line<br>break</p>", "Line\nbreak"),
        ("<div><p>Nested</p>text after</div>", "Nested\n\ntext after"),
        ("<ul><li>a</li><li>b</li></ul>", "a\n\nb"),
        ("<p>Source\n   line   wrap</p>", "Source line wrap"),  # a newline in HTML is a space
        ("<pre>keep\nlines</pre>", "keep\nlines"),
        ("a <script>evil()</script><style>p{}</style><noscript>x</noscript><iframe>y</iframe>b", "a b"),
        ("<!-- comment -->Text &amp; more &#8212; &eacute;t&eacute;", "Text & more \u2014 été"),
        ("<p>\u00a0non\u00a0breaking\u00a0</p>", "non breaking"),
        ("<b>unclosed <i>tags", "unclosed tags"),
        ("  Plain   text\n\n\n\nwith paragraphs  ", "Plain text\n\nwith paragraphs"),
        ("AT&amp;T &copy2023 R&D", "AT&T &copy2023 R&D"),  # only ;-terminated references
        ("5 < 6", "5 < 6"),
        ("", ""),
    ],
)
def test_html_to_text(fragment: str, text: str) -> None:
    assert html_to_text(fragment) == text


def test_plain_text_never_reaches_the_html_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parser(*args: object, **kwargs: object) -> None:
        raise AssertionError("BeautifulSoup called for plain text")

    monkeypatch.setattr("monitor.sources.markup.BeautifulSoup", no_parser)
    assert html_to_text("Officials said, on Tuesday:\n\n  more") == "Officials said, on Tuesday:\n\nmore"


def test_deeply_nested_markup_is_linear() -> None:
    started = time.perf_counter()
    assert html_to_text("<div>" * 20_000 + "deep" + "</div>" * 20_000) == "deep"
    assert html_to_text("<p>word " * 20_000).count("word") == 20_000
    assert time.perf_counter() - started < 5.0
