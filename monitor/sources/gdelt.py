"""GDELT DOC 2.0 in `artlist` mode: a query's matching articles, each one an `Article`.

GDELT sheds load: it may answer even a first request with 429, or with HTTP 200 and the plain text
"Please limit requests to one every 5 seconds". The kind registers a 5-second gap for its host (the
HTTP client keeps one request at a time per host, and this gap between them), the client does not
retry a 429 on the spot, and a throttling answer is a problem of this poll: the next cycle tries
again. Responses come as `{"articles": [...]}` (an empty result is `{}`), or as a bare array.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from monitor.config import GdeltSourceConfig, SourceConfig
from monitor.models import Article, FetchResult, Parsed
from monitor.sources import register
from monitor.sources.markup import clean_text

HOST_INTERVAL = 5.0  # seconds; GDELT asks for one request every 5 s
_THROTTLED = re.compile(rb"limit requests|rate limit|too many requests", re.IGNORECASE)

# GDELT names languages in English; rules filter on ISO 639-1 codes.
LANGUAGES = {
    "english": "en", "russian": "ru", "ukrainian": "uk", "korean": "ko", "japanese": "ja", "chinese": "zh",
    "german": "de", "french": "fr", "spanish": "es", "italian": "it", "portuguese": "pt", "polish": "pl",
    "arabic": "ar", "persian": "fa", "turkish": "tr", "hebrew": "he", "indonesian": "id", "vietnamese": "vi",
    "thai": "th", "hindi": "hi", "dutch": "nl", "czech": "cs", "romanian": "ro", "hungarian": "hu",
    "belarusian": "be", "kazakh": "kk", "georgian": "ka", "armenian": "hy", "azerbaijani": "az",
    "lithuanian": "lt", "latvian": "lv", "estonian": "et", "finnish": "fi", "swedish": "sv", "norwegian": "no",
    "danish": "da", "greek": "el", "bulgarian": "bg", "serbian": "sr", "croatian": "hr", "slovak": "sk",
    "slovenian": "sl", "malay": "ms", "urdu": "ur", "bengali": "bn", "mongolian": "mn",
}


def address(source: SourceConfig) -> str:
    """The DOC API request for this source's query: artlist, JSON, newest first."""
    if not isinstance(source, GdeltSourceConfig):
        return source.url
    params = {"query": source.query, "mode": "artlist", "format": "json", "maxrecords": str(source.maxrecords),
              "timespan": source.timespan, "sort": source.sort}
    separator = "&" if urlsplit(source.url).query else "?"
    return f"{source.url}{separator}{urlencode(params)}"


def parse(result: FetchResult, source: SourceConfig) -> Parsed:
    """The `gdelt` source kind: an artlist JSON answer as articles, plus its problems."""
    try:
        return _parse(result, source)
    except Exception as exc:  # a parser at a hostile edge reports, it does not raise
        return Parsed(problems=(f"could not read the GDELT answer: {type(exc).__name__}: {exc}",))


def _parse(result: FetchResult, source: SourceConfig) -> Parsed:
    if result.not_modified:
        return Parsed()
    body = result.content.strip()
    if not body:
        return Parsed()  # GDELT answers an empty body for some queries without results
    try:
        document = json.loads(body)
    except ValueError:
        return Parsed(problems=(_not_json(body),))
    records = document.get("articles", []) if isinstance(document, dict) else document
    if not isinstance(records, list):
        return Parsed(problems=("not a GDELT artlist answer (no articles list); check the url and mode",))
    articles: list[Article] = []
    skipped = 0
    for record in records:
        article = _article(record, result, source) if isinstance(record, dict) else None
        if article is None:
            skipped += 1
        else:
            articles.append(article)
    problems = (f"{skipped} records skipped: no http(s) url",) if skipped else ()
    return Parsed(tuple(articles), problems)


def _not_json(body: bytes) -> str:
    text = " ".join(body[:300].decode("utf-8", "replace").split())
    if _THROTTLED.search(body[:2000]):
        return f'GDELT asks to slow down ("{text}"); the next cycle tries again'
    if body[:1] == b"<":
        return "not a GDELT DOC API answer (got an HTML page); check the url"
    if body.count(b"\t") > 20:
        return "not a GDELT DOC API answer (tab-separated rows: an events export?); check the url and mode"
    return f'GDELT refused the query: "{text}"; check the query syntax'


def _article(record: dict[str, Any], result: FetchResult, source: SourceConfig) -> Article | None:
    url = str(record.get("url") or "").strip()
    if not url.startswith(("http://", "https://")):
        return None
    language = LANGUAGES.get(str(record.get("language") or "").strip().lower()) or source.language
    return Article(
        source=source.name,
        guid=url,
        url=url,
        # Only the headline: the outlet's country or domain in the text would match place concepts.
        title=" ".join(clean_text(str(record.get("title") or "")).split()),
        published=_seen_date(str(record.get("seendate") or "")),
        fetched_at=result.fetched_at,
        language=language,
    )


def _seen_date(value: str) -> datetime | None:
    """GDELT's `20251228T091500Z` (UTC)."""
    try:
        return datetime.strptime(value.strip(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


register("gdelt", parse, address=address, host_interval=HOST_INTERVAL)
