"""HTML fragments from feeds (summaries, content) reduced to plain text that rules can read.

Paragraphs come out separated by a blank line and `<br>` as a line break, because the rule
engine's `sentence` and `paragraph` windows are cut on those breaks. Also here: pages' bytes
decoded by their charset, and XML prologs rid of their DOCTYPEs (feeds and sanctions lists alike).
"""

from __future__ import annotations

import html
import re

from bs4 import BeautifulSoup, FeatureNotFound, UnicodeDammit
from bs4.element import (
    Comment,
    Declaration,
    Doctype,
    NavigableString,
    PageElement,
    ProcessingInstruction,
    Tag,
)

# Dropped with everything inside: code and embeds, never prose.
_DROPPED = frozenset({"script", "style", "noscript", "iframe", "template", "object", "embed", "svg"})

# Elements that start a new paragraph (HTML's block-level flow content).
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "summary", "table", "tr", "ul",
    }
)  # fmt: skip

# Markers for breaks, turned into newlines only after the source's own whitespace (which HTML
# renders as one space) has been collapsed. Private-use code points, removed from the input first.
_PARAGRAPH = "\ue000"
_LINE = "\ue001"
_PRE_END = "\ue002"
_MARKERS = re.compile("[\ue000-\ue002]")

# Comments, doctypes and processing instructions are NavigableStrings too, but not text.
_NOT_TEXT = (Comment, Declaration, Doctype, ProcessingInstruction)

_SPACES = re.compile(r"[^\S\n]+")  # any whitespace but a newline, incl. no-break space
_BLANK_LINES = re.compile(r"\n{3,}")
_HTTP_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
# Only semicolon-terminated references: bare legacy ones (`&copy`, `&not`) would turn
# "Smith&notes" into "Smith¬es" in text that was never HTML.
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def html_to_text(fragment: str) -> str:
    """Readable plain text of an HTML fragment; plain text comes back with tidied whitespace only."""
    if "<" not in fragment:  # plain text: no parser, it is the common case for titles
        return clean_text(fragment)
    soup = BeautifulSoup(_MARKERS.sub("", fragment), "html.parser")
    return _tidy(_flatten(soup))


def decode_html(content: bytes, content_type: str = "") -> str:
    """A page's bytes as text. Valid UTF-8 is UTF-8 (servers label UTF-8 pages latin-1 more often than
    the reverse); else the HTTP charset; else the page's own `<meta charset>` wherever it sits, then a
    guess (chardet). A gb2312 label is read as GB18030, the superset the bytes usually need."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    labels = [m.group(1) for m in [_HTTP_CHARSET.search(content_type)] if m]
    labels += [m.group(1).decode("ascii", "replace") for m in [_META_CHARSET.search(content[:65536])] if m]
    for label in labels:
        try:
            return content.decode(_superset(label), errors="replace")
        except LookupError:
            continue  # an unknown label ("invalid"): the next clue
    guess = UnicodeDammit(content, is_html=True).original_encoding
    return content.decode(_superset(guess or "windows-1252"), errors="replace")


def parse_html(content: bytes, content_type: str = "") -> BeautifulSoup:
    """A page as a tree: lxml's parser, html.parser where lxml is not installed."""
    text = decode_html(content, content_type)
    try:
        return BeautifulSoup(text, "lxml")
    except FeatureNotFound:
        return BeautifulSoup(text, "html.parser")


def _superset(label: str) -> str:
    label = label.strip().lower()
    return {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "ascii": "windows-1252",
            "us-ascii": "windows-1252", "iso-8859-1": "windows-1252", "latin-1": "windows-1252",
            "ks_c_5601-1987": "cp949", "euc-kr": "cp949", "shift_jis": "cp932", "sjis": "cp932"}.get(label, label)


def clean_text(text: str) -> str:
    """Plain text with entity references resolved and whitespace tidied, line breaks kept."""
    if "&" in text:
        text = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    return _tidy(text.replace("\r\n", "\n").replace("\r", "\n"))


def _flatten(root: Tag) -> str:
    """The text of `root` with break markers, walked with an explicit stack.

    No recursion and no tree edits: hostile input nests tags thousands deep, and bs4's
    insert_after is linear in the subtree, which made marking blocks quadratic.
    """
    parts: list[str] = []
    pre_depth = 0
    stack: list[PageElement | str] = [root]
    while stack:
        node = stack.pop()
        if type(node) is str:  # a marker pushed when its element was entered: it ends here
            if node == _PRE_END:
                pre_depth -= 1
            else:
                parts.append(node)
        elif isinstance(node, NavigableString):
            if not isinstance(node, _NOT_TEXT):
                # A newline in HTML source is only a space, except inside <pre>.
                parts.append(str(node).replace("\n", _LINE if pre_depth else " "))
        elif isinstance(node, Tag) and node.name not in _DROPPED:
            if node.name == "br":
                parts.append(_LINE)
                continue
            if node.name in _BLOCKS:
                parts.append(_PARAGRAPH)
                stack.append(_PARAGRAPH)
            if node.name == "pre":
                pre_depth += 1
                stack.append(_PRE_END)
            stack.extend(reversed(node.contents))
    return "".join(parts)


def _tidy(text: str) -> str:
    text = _SPACES.sub(" ", text)
    text = text.replace(_PARAGRAPH, "\n\n").replace(_LINE, "\n")
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


# --- XML prologs --------------------------------------------------------------------------------

# Entity expansion is the XML attack surface (billion laughs, quadratic blowup, file:// entities).
# Neither feeds nor sanctions lists have any use for a DTD, so their readers drop every DOCTYPE of
# the prolog before any XML parser runs (sources/rss.py says why feedparser's own filter is not enough).
_PROLOG_MARKUP = re.compile(rb"<!--|<\?|<!DOCTYPE|<\w", re.IGNORECASE)
_DOCTYPE_TOKEN = re.compile(rb"[\"'\[\]>]|<!--")
_CLOSERS = {b'"': b'"', b"'": b"'", b"<!--": b"-->"}  # what to skip to, by find(): linear time


def without_doctypes(document: bytes) -> tuple[bytes, bool]:
    """`document` without the DOCTYPE declarations of its prolog; and whether they declared entities."""
    kept: list[bytes] = []
    position = 0
    declared_entities = False
    while match := _PROLOG_MARKUP.search(document, position):
        markup = match.group().upper()
        if markup == b"<!--" or markup == b"<?":
            close = document.find(b"-->" if markup == b"<!--" else b"?>", match.end())
            if close < 0:
                break
            position = close + (3 if markup == b"<!--" else 2)
        elif markup == b"<!DOCTYPE":
            end = _doctype_end(document, match.end())
            declared_entities |= b"<!ENTITY" in document[match.start() : end].upper()
            kept.append(document[position : match.start()])
            position = end
        else:
            break  # the root element: the prolog is over
    kept.append(document[position:])
    return b"".join(kept), declared_entities


def _doctype_end(document: bytes, start: int) -> int:
    """Where the DOCTYPE opened before `start` ends: its `>` outside quotes, comments and `[...]`."""
    depth = 0
    position = start
    while token := _DOCTYPE_TOKEN.search(document, position):
        symbol = token.group()
        position = token.end()
        if symbol in _CLOSERS:
            close = document.find(_CLOSERS[symbol], position)
            if close < 0:
                break
            position = close + len(_CLOSERS[symbol])
        elif symbol == b"[":
            depth += 1
        elif symbol == b"]":
            depth -= 1
        elif depth <= 0:  # ">"
            return position
    return len(document)  # never closed: nothing after it can be well-formed XML
