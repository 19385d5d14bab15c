"""HTML fragments from feeds (summaries, content) reduced to plain text that rules can read.

Paragraphs come out separated by a blank line and `<br>` as a line break, because the rule
engine's `sentence` and `paragraph` windows are cut on those breaks.
"""

from __future__ import annotations

import html
import re

from bs4 import BeautifulSoup
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
# Only semicolon-terminated references: bare legacy ones (`&copy`, `&not`) would turn
# "Smith&notes" into "Smith¬es" in text that was never HTML.
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def html_to_text(fragment: str) -> str:
    """Readable plain text of an HTML fragment; plain text comes back with tidied whitespace only."""
    if "<" not in fragment:  # plain text: no parser, it is the common case for titles
        return clean_text(fragment)
    soup = BeautifulSoup(_MARKERS.sub("", fragment), "html.parser")
    return _tidy(_flatten(soup))


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
