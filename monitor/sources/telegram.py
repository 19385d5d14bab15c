"""Telegram: a public channel's web preview (`https://t.me/s/NAME`), no session and no API key.

Each message (`div.tgme_widget_message[data-post]`) becomes an article: its text, its date, its
permalink (`https://t.me/NAME/ID`, the post's identity, whatever address the page was fetched from).
The page shows the newest twenty or so; `Parsed.more` is the `?before=` address of the next older
page, which the pipeline follows to catch up after downtime. Service messages ("Channel created")
and media-only posts without text are skipped: there is nothing in them to match.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from bs4 import BeautifulSoup, Tag

from monitor.config import SourceConfig
from monitor.models import Article, FetchResult, Parsed
from monitor.sources import register
from monitor.sources.dates import parse_date
from monitor.sources.markup import html_to_text, parse_html

TITLE_LENGTH = 140
_POST = re.compile(r"^[A-Za-z0-9_]{3,64}/\d+$")
_VIEWS = re.compile(r"^\s*([\d.,]+)\s*([KMB]?)\s*$", re.IGNORECASE)


def parse(result: FetchResult, source: SourceConfig) -> Parsed:
    """The `telegram` source kind: a channel preview page as articles, plus its problems."""
    try:
        return _parse(result, source)
    except Exception as exc:  # a parser at a hostile edge reports, it does not raise
        return Parsed(problems=(f"could not read the Telegram page: {type(exc).__name__}: {exc}",))


def _parse(result: FetchResult, source: SourceConfig) -> Parsed:
    if result.not_modified:
        return Parsed()
    page = parse_html(result.content, result.content_type)
    messages = [m for m in page.select("div.tgme_widget_message[data-post]") if _POST.match(str(m["data-post"]))]
    if not messages:
        return Parsed(problems=(_no_messages(page),))
    articles: list[Article] = []
    for message in messages:
        article = _article(message, result, source)
        if article is not None:
            articles.append(article)
    return Parsed(tuple(articles), more=_older_page(page, result.url))


def _no_messages(page: BeautifulSoup) -> str:
    if page.select_one(".tgme_channel_info"):
        return "the channel has no public posts yet"
    if page.select_one(".tgme_widget_message_text"):
        return "not a channel preview: message text without data-post (a cut-down page); check the url"
    if page.select_one(".tgme_page"):
        return "not a channel preview: Telegram shows a contact page (the channel may not exist or be private)"
    return "not a Telegram channel preview (no messages); check the channel name or url"


def _article(message: Tag, result: FetchResult, source: SourceConfig) -> Article | None:
    if "service_message" in (message.get("class") or []):
        return None  # "Channel created", pinned-message notices
    post = str(message["data-post"])
    text = _text(message)
    if not text:
        return None  # a photo, a video or a sticker alone
    forwarded = message.select_one(".tgme_widget_message_forwarded_from_name")
    when = message.select_one(".tgme_widget_message_date time[datetime]")
    return Article(
        source=source.name,
        guid=post,
        url=f"https://t.me/{post}",
        title=_title(text),
        summary=f"Forwarded from {forwarded.get_text(' ', strip=True)}" if forwarded else "",
        content=text,
        published=parse_date(str(when["datetime"])) if when else None,
        fetched_at=result.fetched_at,
        language=source.language,
    )


def _text(message: Tag) -> str:
    """The post's own text: not the quoted parent of a reply; an album caption once, though Telegram
    nests it in two identical divs; a poll's question and options when the post is a poll."""
    for node in message.select(".tgme_widget_message_text"):
        if "js-message_reply_text" in (node.get("class") or []) or node.find_parent(class_="tgme_widget_message_reply"):
            continue
        return html_to_text(f"<div>{node.decode_contents()}</div>")  # markup even without tags: newlines are spaces
    poll = message.select_one(".tgme_widget_message_poll")
    if poll is None:
        return ""
    question = poll.select_one(".tgme_widget_message_poll_question")
    options = [" ".join(o.get_text(" ", strip=True).split()) for o in poll.select(".tgme_widget_message_poll_option")]
    return "\n".join([question.get_text(" ", strip=True) if question else "", *options]).strip()


def _title(text: str) -> str:
    first = " ".join(text.split("\n", 1)[0].split())
    return first if len(first) <= TITLE_LENGTH else first[: TITLE_LENGTH - 1].rsplit(" ", 1)[0] + "…"


def views(text: str) -> int | None:
    """Telegram's view counter as a number: "943", "3.12K", "1.2M"."""
    match = _VIEWS.match(text)
    if not match:
        return None
    scale = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}[match[2].upper()]
    return round(float(match[1].replace(",", ".")) * scale)


def _older_page(page: BeautifulSoup, url: str) -> str | None:
    """The `?before=` address of the next older page, from the "load more" anchor's cursor."""
    more = page.select_one("a.tme_messages_more[data-before]")
    if more is None or not str(more["data-before"]).isdigit():
        return None
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=f"before={more['data-before']}", fragment=""))


register("telegram", parse)
