"""Feeds: RSS 0.9x/1.0/2.0 and Atom through feedparser, JSON Feed 1.x through `json`.

Bytes in, `Article`s out. feedparser's dict never leaves this module: each entry is converted at
once. Like feedparser, `parse` never raises; whatever went wrong comes back in `Parsed.problems`.

Hostile XML (tests/test_sources_rss.py shows each point): feedparser gets a stream, never bytes,
because it tries a bytes argument as a file name first; every DOCTYPE is removed before any XML
parser runs, so no entity is ever declared, expanded or fetched (see `_prepared` for why
feedparser's own entity filter is not enough). Behind that, feedparser turns off external general
entities, and Python 3.11's expat (2.5 here) limits entity amplification by itself.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import re
import xml.sax
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from feedparser.encodings import convert_to_utf8

from monitor.config import SourceConfig
from monitor.models import Article, FetchResult, Parsed
from monitor.sources import register
from monitor.sources.markup import clean_text, html_to_text, without_doctypes

HASH_PREFIX = "sha256:"  # guids made up here, for entries that had neither id nor link
_WEB_SCHEMES = frozenset({"http", "https"})
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
_LANGUAGE = re.compile(r"[a-z]{2,3}")


@dataclass(frozen=True)
class _Context:
    """What every entry of one document shares."""

    source: str
    base_url: str  # the document's own URL, for relative links
    fetched_at: datetime
    language: str | None  # the feed's language, else the configured one


@dataclass(frozen=True)
class _Entry:
    """One entry as plain text, whatever the format, before the fallbacks all formats share."""

    id: str
    link: str
    title: str
    summary: str
    content: str
    published: datetime | None
    language: str | None


def parse(result: FetchResult, source: SourceConfig) -> Parsed:
    """The `rss` source kind: any RSS, Atom or JSON Feed document as articles, plus its problems."""
    try:
        return _parse(result, source)
    except Exception as exc:  # a parser at a hostile edge reports, it does not raise
        return Parsed(problems=(f"could not parse the feed: {type(exc).__name__}: {exc}",))


def _parse(result: FetchResult, source: SourceConfig) -> Parsed:
    if result.not_modified:
        return Parsed()  # 304: nothing new, and nothing wrong
    body = result.content
    if not body.strip():
        return Parsed(problems=("not an RSS/Atom feed (the body is empty); check the URL",))
    if _looks_like_json(body, result.content_type):
        return _parse_json_feed(body, result, source)
    return _parse_xml_feed(body, result, source)


# --- RSS and Atom -------------------------------------------------------------------------------


def _parse_xml_feed(body: bytes, result: FetchResult, source: SourceConfig) -> Parsed:
    document, problems, declared_entities = _prepared(body, result.content_type)
    feed = feedparser.parse(
        io.BytesIO(document),  # a stream: given bytes, feedparser would first try them as a file name
        response_headers={"content-type": "application/xml; charset=utf-8"},  # as _prepared made it
        resolve_relative_uris=False,  # markup becomes text anyway; entry links are resolved below
    )
    if not feed.get("version") and not feed.entries:
        return Parsed(problems=(_not_a_feed(body, result.content_type),))
    if feed.get("bozo"):
        problems.append(f"ill-formed feed: {_bozo_reason(feed.get('bozo_exception'))}")
    if declared_entities:
        problems.append("the DOCTYPE declares entities; they are ignored (never expanded)")
    language = _language(feed.feed.get("language")) or _language(source.language)
    context = _Context(source.name, result.url, result.fetched_at, language)
    articles, entry_problems = _articles(feed.entries, context, _xml_entry)
    return Parsed(tuple(articles), tuple(problems + entry_problems), ttl=_ttl(feed.feed.get("ttl")))


def _ttl(value: object) -> float | None:
    """RSS 2.0 `<ttl>`: minutes the channel may be cached before it is fetched again."""
    text = str(value or "").strip()
    return float(text) * 60 if text.isdigit() and int(text) > 0 else None


# Why every DOCTYPE goes, not only feedparser's filtering: feedparser filters <!ENTITY> declarations
# only where one starts a line, keeps those with plain text values, and its lenient fallback parser
# (used once expat gives up) expands them without limit: one 100 kB entity used 10,000 times made a
# 1 GB title in 45 s. Declarations sharing a line are not filtered at all; only expat's amplification
# limit stood in their way.
def _prepared(body: bytes, content_type: str) -> tuple[bytes, list[str], bool]:
    """The document as UTF-8 without DOCTYPE, what was wrong with its encoding, and whether the
    DOCTYPE declared entities.

    Decoding is feedparser's own first step (BOM, charset, XML declaration, then fallbacks), done
    here so the DOCTYPE can go before any parser sees it, whatever the document's encoding.
    """
    info: dict[str, Any] = {}
    document = convert_to_utf8({"content-type": _xml_media_type(content_type)}, body, info)
    problems = []
    if info.get("bozo"):
        problems.append(f"ill-formed feed: {_bozo_reason(info.get('bozo_exception'))}")
    document, declared_entities = without_doctypes(document)
    return document, problems, declared_entities


def _xml_media_type(content_type: str) -> str:
    """The Content-Type to decode by: the server's charset, if any, on an XML media type.

    RFC 7303, which replaced RFC 3023, reads text/xml like application/xml: the charset parameter,
    else the BOM or XML declaration, else UTF-8. feedparser still applies RFC 3023's us-ascii
    default to text/* without a charset, which would flag every feed served as plain `text/xml`
    (or mislabelled `text/html`) as ill-formed for no fault of its own.
    """
    match = _CHARSET.search(content_type)
    return f"application/xml; charset={match.group(1)}" if match else "application/xml"


def _not_a_feed(body: bytes, content_type: str) -> str:
    head = body[:2048].lower()
    if "html" in content_type.lower() or any(tag in head for tag in (b"<html", b"<head", b"<body")):
        return "not an RSS/Atom feed (looks like HTML); check the URL"
    return "not an RSS/Atom feed (no <rss>, <feed> or <rdf:RDF> element); check the URL"


def _bozo_reason(exc: object) -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        # No line number: feedparser has rewritten the document (declaration, doctype) by then.
        return str(exc.getMessage())
    return str(exc) or type(exc).__name__


def _xml_entry(entry: Any) -> _Entry:
    return _Entry(
        id=str(_raw(entry, "id") or "").strip(),
        link=str(_raw(entry, "link") or ""),
        title=_one_line(_detail_text(entry, "title")),
        summary=_detail_text(entry, "summary"),
        content=max((_typed_text(c) for c in _raw(entry, "content") or ()), key=len, default=""),
        published=_xml_published(entry),
        language=_language(_entry_language(entry)),
    )


def _raw(entry: Any, key: str) -> Any:
    # Plain dict access: FeedParserDict.get maps some keys onto others (`updated_parsed` falls
    # back to `published_parsed`, with a DeprecationWarning), and we choose fallbacks ourselves.
    return dict.get(entry, key)


def _detail_text(entry: Any, key: str) -> str:
    detail = _raw(entry, f"{key}_detail") or {}
    return _typed_text({"value": _raw(entry, key) or "", "type": detail.get("type")})


def _typed_text(detail: Any) -> str:
    """feedparser's value as text: markup reduced, and plain text never run through an HTML parser
    (a plain title "a<b" would lose its end)."""
    value = str(detail.get("value") or "")
    kind = str(detail.get("type") or "text/html")
    return html_to_text(value) if "html" in kind else clean_text(value)


def _entry_language(entry: Any) -> str | None:
    # feedparser gives each text construct the xml:lang in scope (entry, else feed).
    details = [_raw(entry, "title_detail"), _raw(entry, "summary_detail"), *(_raw(entry, "content") or ())]
    tags = [_raw(entry, "language"), *(d.get("language") for d in details if d)]
    return next((tag for tag in tags if _language(tag)), None)


def _xml_published(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        parsed = _raw(entry, key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)  # struct_time in UTC
            except (TypeError, ValueError, OverflowError, OSError):
                continue
    return _localized_date(str(_raw(entry, "published") or _raw(entry, "updated") or ""))


# --- JSON Feed (feedparser 6 does not read it) --------------------------------------------------


def _looks_like_json(body: bytes, content_type: str) -> bool:
    first = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first in (b"{", b"["):
        return True
    return first != b"<" and "json" in content_type.lower()


def _parse_json_feed(body: bytes, result: FetchResult, source: SourceConfig) -> Parsed:
    try:
        document = json.loads(body)  # detects UTF-8/16/32 and a BOM itself
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return Parsed(problems=(f"not a JSON Feed (invalid JSON: {exc}); check the URL",))
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list):
        return Parsed(problems=("not a JSON Feed (no items list); check the URL",))
    language = _language(document.get("language")) or _language(source.language)
    context = _Context(source.name, result.url, result.fetched_at, language)
    articles, problems = _articles(items, context, _json_item)
    return Parsed(tuple(articles), tuple(problems))


def _json_item(item: Any) -> _Entry:
    """One JSON Feed 1.x item (https://www.jsonfeed.org/version/1.1/)."""
    if not isinstance(item, dict):
        raise ValueError("an item is not a JSON object")
    html = _json_str(item.get("content_html"))
    return _Entry(
        id=_json_str(item.get("id")).strip(),
        link=_json_str(item.get("url")) or _json_str(item.get("external_url")),
        title=_one_line(clean_text(_json_str(item.get("title")))),  # plain text by the spec
        summary=clean_text(_json_str(item.get("summary"))),
        content=html_to_text(html) if html else clean_text(_json_str(item.get("content_text"))),
        published=_iso_date(item.get("date_published") or item.get("date_modified")),
        language=_language(item.get("language")),
    )


def _json_str(value: object) -> str:
    # ids are strings by the spec, numbers in the wild
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _iso_date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())  # RFC 3339, as JSON Feed requires
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- what every format shares -------------------------------------------------------------------


def _articles(
    entries: Sequence[Any], context: _Context, read: Callable[[Any], _Entry]
) -> tuple[list[Article], list[str]]:
    """Every entry that can be read; one bad entry costs itself only."""
    articles: list[Article] = []
    problems: list[str] = []
    empty = hashed = 0
    for number, raw in enumerate(entries, start=1):
        try:
            article = _article(read(raw), context)
        except Exception as exc:
            problems.append(f"entry {number} skipped: {type(exc).__name__}: {exc}")
            continue
        if article is None:
            empty += 1
            continue
        hashed += article.guid.startswith(HASH_PREFIX)
        articles.append(article)
    if empty:
        problems.append(f"{_entries(empty)} skipped: no link, title, summary or content")
    if hashed:
        problems.append(f"{_entries(hashed)} had neither id nor link; guid made from title and text")
    return articles, problems


def _article(entry: _Entry, context: _Context) -> Article | None:
    url = _web_url(entry.link, context.base_url)
    if not (url or entry.title or entry.summary or entry.content):
        return None  # nothing to match and nothing to link to
    return Article(
        source=context.source,
        guid=entry.id or url or _text_hash(entry.title, entry.summary or entry.content),
        url=url,  # "" when the entry has no http(s) link; the guid still identifies it
        title=entry.title,
        # Rules read title, summary and content, so the same text twice only costs time. When they
        # are equal (feedparser copies content:encoded into an empty summary), keep content: it is
        # the fuller field by intent, and a rule scoped to `content` should see the body.
        summary="" if entry.summary == entry.content else entry.summary,
        content=entry.content,
        published=entry.published,
        fetched_at=context.fetched_at,
        language=entry.language or context.language,
    )


def _web_url(link: str, base: str) -> str:
    """`link` made absolute against the document's URL; "" unless it is http(s) (no javascript:)."""
    if not link.strip():
        return ""
    try:
        url = urljoin(base, link.strip())
        parts = urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 literal
        return ""
    return url if parts.scheme.lower() in _WEB_SCHEMES and parts.netloc else ""


def _text_hash(title: str, text: str) -> str:
    digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()
    return f"{HASH_PREFIX}{digest[:32]}"


def _language(tag: object) -> str | None:
    """The primary subtag of a language tag, lower-cased: "en-US" -> "en"; None if it is no tag."""
    if not isinstance(tag, str):
        return None
    primary = re.split(r"[-_\s]", tag.strip().lower(), maxsplit=1)[0]
    return primary if _LANGUAGE.fullmatch(primary) else None


def _one_line(text: str) -> str:
    return " ".join(text.split())  # titles arrive padded with newlines and runs of spaces


def _entries(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"


# --- dates feedparser leaves unparsed -----------------------------------------------------------

# RFC 822 dates with month names in the site's language ("Seg, 24 Set 2018 19:42:40 -0300" from a
# Brazilian site), keyed by their first four, else three, case-folded letters.
_MONTHS = {
    **dict.fromkeys(("jan", "ene", "gen", "янв"), 1),
    **dict.fromkeys(("feb", "fev", "fév", "фев"), 2),
    **dict.fromkeys(("mar", "mär", "mrz", "мар"), 3),
    **dict.fromkeys(("apr", "abr", "avr", "апр"), 4),
    **dict.fromkeys(("may", "mai", "mag", "мая", "май"), 5),
    **dict.fromkeys(("jun", "juin", "giu", "июн"), 6),
    **dict.fromkeys(("jul", "juil", "lug", "июл"), 7),
    **dict.fromkeys(("aug", "ago", "aoû", "aou", "авг"), 8),
    **dict.fromkeys(("sep", "set", "сен"), 9),
    **dict.fromkeys(("oct", "out", "okt", "ott", "окт"), 10),
    **dict.fromkeys(("nov", "ноя"), 11),
    **dict.fromkeys(("dec", "dez", "dic", "déc", "дек"), 12),
}
_ENGLISH_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LOCALIZED_DATE = re.compile(
    r"^\s*(?:[^\W\d]+\.?,?\s+)?(\d{1,2})\.?\s+([^\W\d]+)\.?\s+(\d{4})\s+(\d{1,2}:\d{2}(?::\d{2})?)\s*(\S*)"
)


def _localized_date(text: str) -> datetime | None:
    match = _LOCALIZED_DATE.match(text)
    if not match:
        return None
    day, name, year, clock, zone = match.groups()
    name = name.casefold()
    month = _MONTHS.get(name[:4]) or _MONTHS.get(name[:3])
    if month is None:
        return None
    try:
        moment = parsedate_to_datetime(f"{day} {_ENGLISH_MONTHS[month - 1]} {year} {clock} {zone}")
    except (TypeError, ValueError):
        return None
    # No zone, or one email.utils does not know: UTC, as feedparser assumes for zone-less dates.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


register("rss", parse)
