"""Listing pages (a ministry's press room, a news section front) read with CSS selectors.

`item` selects one element per story; `title`, `link`, `date` and `summary` are selectors inside it.
A selector may end in `@attribute` to read that attribute instead of the text (`time@datetime`). Links
are resolved against the page's URL (its `<base href>` first); a date comes from the `date` element's
`datetime`, `content` or `title` attribute, else its text, in the formats and languages of
`monitor.sources.dates`; an item without one takes the date its link carries (`/2014/07/24/`). The
same link twice on one page (a teaser and its story) is one article.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, time, tzinfo
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup, Tag

from monitor.config import HtmlSourceConfig, SourceConfig
from monitor.models import Article, FetchResult, Parsed
from monitor.sources import register
from monitor.sources.dates import date_in_url, parse_date
from monitor.sources.markup import html_to_text, parse_html

_ATTRIBUTE = re.compile(r"^(.*?)\s*@([A-Za-z_:][-A-Za-z0-9_:.]*)$")
_DATE_ATTRIBUTES = ("datetime", "content", "data-time", "data-date", "title")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def parse(result: FetchResult, source: SourceConfig) -> Parsed:
    """The `html` source kind: a listing page as articles, plus its problems."""
    try:
        return _parse(result, source)
    except Exception as exc:  # a parser at a hostile edge reports, it does not raise
        return Parsed(problems=(f"could not read the listing: {type(exc).__name__}: {exc}",))


def _parse(result: FetchResult, source: SourceConfig) -> Parsed:
    if result.not_modified:
        return Parsed()
    if not isinstance(source, HtmlSourceConfig):
        return Parsed(problems=('the html kind needs selectors: set item = "…" (and title, link) in the source',))
    if not result.content.strip():
        return Parsed(problems=("the page is empty; check the url",))
    page = parse_html(result.content, result.content_type)
    items = page.select(source.item)
    if not items:
        return Parsed(problems=(f'the item selector "{source.item}" matched nothing: the page layout may have '
                                "changed (or it needs JavaScript); check the selectors against the page",))
    base = _base_url(page, result.url)
    language = source.language or _page_language(page)
    zone = ZoneInfo(source.timezone) if source.timezone != "UTC" else UTC
    articles: list[Article] = []
    seen: set[str] = set()
    untitled = 0
    for item in items:
        article = _article(item, source, base, result.fetched_at, language, zone)
        if article is None:
            untitled += 1
        elif article.guid not in seen:
            seen.add(article.guid)
            articles.append(article)
    problems = (f'{untitled} of {len(items)} items skipped: no title at "{source.title}"',) if untitled else ()
    return Parsed(tuple(articles), problems)


def _article(item: Tag, source: HtmlSourceConfig, base: str, fetched_at: datetime, language: str | None,
             zone: tzinfo) -> Article | None:
    title = " ".join(_read(item, source.title).split())
    if not title:
        return None
    url = _link(item, source.link, base)
    summary = html_to_text(f"<div>{_read(item, source.summary, markup=True)}</div>") if source.summary else ""
    return Article(
        source=source.name,
        guid=url or "sha256:" + hashlib.sha256(title.encode()).hexdigest()[:32],
        url=url,
        title=title,
        summary=summary,
        published=_date(item, source, url, zone, fetched_at),
        fetched_at=fetched_at,
        language=language,
    )


def _split(selector: str) -> tuple[str, str | None]:
    """`"time@datetime"` → ("time", "datetime"); `"a[href]"` → ("a[href]", None); `"@title"` → the item."""
    match = _ATTRIBUTE.match(selector)
    return (match[1], match[2]) if match and "[" not in match[2] else (selector, None)


def _element(item: Tag, selector: str) -> Tag | None:
    return item if not selector else item.select_one(selector)


def _read(item: Tag, selector: str | None, markup: bool = False) -> str:
    if not selector:
        return ""
    css, attribute = _split(selector)
    element = _element(item, css)
    if element is None:
        return ""
    if attribute:
        return str(element.get(attribute) or "")
    return element.decode_contents() if markup else element.get_text(" ")


def _link(item: Tag, selector: str, base: str) -> str:
    css, attribute = _split(selector)
    element = _element(item, css)
    if element is not None and not attribute and not element.get("href"):
        element = element.select_one("a[href]")  # "h2" for "the link in the h2"
    if element is None:
        return ""
    href = str(element.get(attribute or "href") or "").strip()
    if not href:
        return ""
    try:
        url = urljoin(base, href)
    except ValueError:
        return ""
    parts = urlsplit(url)
    return url.split("#", 1)[0] if parts.scheme in ("http", "https") and parts.netloc else ""


def _date(item: Tag, source: HtmlSourceConfig, url: str, zone: tzinfo, now: datetime) -> datetime | None:
    if source.date:
        css, attribute = _split(source.date)
        element = _element(item, css)
        if element is not None:
            values = [str(element.get(attribute) or "")] if attribute else [
                *(str(element.get(name)) for name in _DATE_ATTRIBUTES if element.get(name)), element.get_text(" ")]
            for value in values:
                found = parse_date(value, order=source.date_order, zone=zone, now=now)
                if found is not None:
                    return found
    day = date_in_url(url)
    return datetime.combine(day, time(), zone).astimezone(UTC) if day else None


def _base_url(page: BeautifulSoup, url: str) -> str:
    base = page.select_one("base[href]")
    if base is None:
        return url
    try:
        return urljoin(url, str(base["href"]))
    except ValueError:
        return url


def _page_language(page: BeautifulSoup) -> str | None:
    root = page.find("html")
    tag = str(root.get("lang") or "") if isinstance(root, Tag) else ""
    primary = tag.strip().lower().replace("_", "-").split("-", 1)[0]
    return primary if _LANGUAGE.match(primary) else None


register("html", parse)
