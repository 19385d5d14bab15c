"""Text as the rule engine sees it: folded for matching, with a way back to the original offsets.

Folding (NFKC, casefold, accents off for alphabetic scripts, ё→е, Persian/Arabic letter variants,
every non-word character a single space) is applied alike to rule terms and to article text, so a
term written "Shahed-136" finds "SHAHED 136" and "алабуг*" finds "Алабуге".
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Letters whose accents carry no meaning for matching: Latin, Greek, Cyrillic, Armenian, Hebrew,
# Arabic and Latin Extended Additional. Elsewhere (kana dakuten, Indic vowel signs) marks are letters.
_STRIP_MARKS_BELOW = 0x0700
_LATIN_EXTENDED_ADDITIONAL = range(0x1E00, 0x2000)

# Persian and Arabic write some letters differently; fold them to one form.
_VARIANTS = str.maketrans({"ی": "ي", "ى": "ي", "ک": "ك", "ۀ": "ه", "ة": "ه"})


def is_cjk(char: str) -> bool:
    """Han, kana and Hangul: scripts written without spaces between words (or particles attached)."""
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x3400 <= code <= 0x4DBF  # Han extension A
        or 0x4E00 <= code <= 0x9FFF  # Han
        or 0xAC00 <= code <= 0xD7AF  # Hangul syllables
        or 0x1100 <= code <= 0x11FF  # Hangul jamo
        or 0x3130 <= code <= 0x318F  # Hangul compatibility jamo
        or 0xF900 <= code <= 0xFAFF  # Han compatibility
        or 0x20000 <= code <= 0x2FA1F  # Han extensions B+
    )


@lru_cache(maxsize=65536)
def fold_char(char: str) -> str:
    """One character folded for matching; "" drops it, " " makes it a separator."""
    folded = unicodedata.normalize("NFKC", char).casefold().translate(_VARIANTS)
    out = []
    for part in unicodedata.normalize("NFKD", folded):
        category = unicodedata.category(part)
        if category == "Mn" and (ord(char) < _STRIP_MARKS_BELOW or ord(char) in _LATIN_EXTENDED_ADDITIONAL):
            continue
        if category == "Nd":
            out.append(str(unicodedata.digit(part)))  # Persian and Arabic-Indic digits
        elif part.isalnum() or category in ("Mn", "Mc"):
            out.append(part)
        else:
            out.append(" ")
    return unicodedata.normalize("NFC", "".join(out))


def fold(text: str) -> str:
    """`text` folded for matching: words separated by single spaces."""
    return Folded.of(text).text


@dataclass(frozen=True)
class Folded:
    """Folded text and, for each of its characters, the index of the original character it came from."""

    text: str
    origin: tuple[int, ...]

    @classmethod
    def of(cls, original: str) -> Folded:
        chars: list[str] = []
        origin: list[int] = []
        for index, char in enumerate(original):
            for out in fold_char(char):
                if out == " " and (not chars or chars[-1] == " "):
                    continue
                chars.append(out)
                origin.append(index)
        if chars and chars[-1] == " ":
            chars.pop()
            origin.pop()
        return cls("".join(chars), tuple(origin))

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of the folded range [start, end)."""
        return self.origin[start], self.origin[end - 1] + 1

    def folded_index(self, original_index: int) -> int:
        """The first folded character at or after an original offset."""
        return bisect_left(self.origin, original_index)


# A sentence ends at . ! ? … (and their CJK forms) before a space, or at a line break. A dot does not
# end one after a lone capital or a common abbreviation ("U.S.", "Gen.", "тыс."), after a number of
# one or two digits (ordinal dates: "am 19. Juni", "19. června"), or before a lower-case word
# ("2024. gada", "1 тыс. контейнеров"): sentences in cased scripts start with a capital.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’»)\]]*\s+|(?<=[。！？])\s*|\s*\n\s*")
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "gen", "col", "lt", "sgt", "maj", "capt", "adm", "st", "jr", "sr",
        "inc", "ltd", "co", "corp", "no", "vs", "etc", "approx", "jan", "feb", "mar", "apr", "jun", "jul",
        "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "e.g", "i.e", "ul", "см", "им", "г", "гг",
        "тыс", "млн", "млрд", "тис", "мн", "ген", "mio", "mrd", "bzw", "ca", "z.b", "nr", "vgl", "bd",
    }
)


def sentence_starts(text: str) -> list[int]:
    """Original offsets where sentences begin (the first is always 0)."""
    starts = [0]
    for boundary in _SENTENCE_END.finditer(text):
        end = boundary.end()
        if end >= len(text) or ("\n" not in boundary.group() and _continues(text, boundary.start(), end)):
            continue
        starts.append(end)
    return starts


def _continues(text: str, dot: int, following: int) -> bool:
    """Whether the sentence goes on past the dot at `dot - 1` (see the comment above)."""
    if dot == 0 or text[dot - 1] != ".":
        return False
    if text[following].islower():
        return True
    before = text[:dot - 1].rsplit(None, 1)
    word = before[-1].lstrip("(\"'«“").lower() if before else ""
    return len(word) == 1 or word in _ABBREVIATIONS or (word.isdigit() and len(word) <= 2)


_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")


def paragraph_starts(text: str) -> list[int]:
    """Original offsets where paragraphs (blocks separated by a blank line) begin."""
    return [0] + [m.end() for m in _PARAGRAPH_BREAK.finditer(text) if m.end() < len(text)]


@dataclass(frozen=True)
class Document:
    """One field of an article, prepared for matching: folded text plus its word, sentence and
    paragraph structure in folded coordinates."""

    original: str
    folded: Folded
    word_starts: tuple[int, ...]  # folded offsets where tokens begin (each Han or kana char is one)
    sentence_starts: tuple[int, ...]  # folded offsets
    paragraph_starts: tuple[int, ...]
    original_sentence_starts: tuple[int, ...]

    @classmethod
    def of(cls, original: str) -> Document:
        folded = Folded.of(original)
        sentences = sentence_starts(original)
        return cls(
            original=original,
            folded=folded,
            word_starts=tuple(_token_starts(folded.text)),
            sentence_starts=tuple(folded.folded_index(s) for s in sentences),
            paragraph_starts=tuple(folded.folded_index(p) for p in paragraph_starts(original)),
            original_sentence_starts=tuple(sentences),
        )

    @property
    def text(self) -> str:
        return self.folded.text

    def word_at(self, index: int) -> int:
        return bisect_right(self.word_starts, index) - 1

    def sentence_at(self, index: int) -> int:
        return bisect_right(self.sentence_starts, index) - 1

    def paragraph_at(self, index: int) -> int:
        return bisect_right(self.paragraph_starts, index) - 1

    def original_sentence(self, number: int) -> tuple[int, int]:
        """Original [start, end) of sentence `number`, trailing whitespace excluded."""
        starts = self.original_sentence_starts
        start = starts[number]
        end = starts[number + 1] if number + 1 < len(starts) else len(self.original)
        while end > start and self.original[end - 1].isspace():
            end -= 1
        return start, end


def _token_starts(folded: str) -> list[int]:
    starts = []
    previous = " "
    for index, char in enumerate(folded):
        if char != " " and (previous == " " or is_cjk(char) or is_cjk(previous)):
            starts.append(index)
        previous = char
    return starts


# Query parameters that identify a click, not a document.
_TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|dclid|msclkid|yclid|mc_cid|mc_eid|igshid|_ga|ref_src|cmpid)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """The URL an article is known by: tracking parameters, fragment, default port, AMP suffix and
    trailing slash removed; scheme and host lower-cased."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.port and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    path = re.sub(r"/amp/?$|\.amp$", "", parts.path) or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    query = [(k, v) for k, v in query if not (k == "amp" and v in ("", "1", "true"))]
    return urlunsplit((scheme, host, path, urlencode(query), ""))


# Public suffixes under which the registered domain takes one more label. A short list for the hosts
# this monitor meets; an unknown two-level suffix only makes two outlets under it look like one voice.
_TWO_LEVEL_SUFFIXES = frozenset(
    {"co.uk", "org.uk", "gov.uk", "ac.uk", "co.kr", "or.kr", "go.kr", "co.jp", "or.jp", "ne.jp", "go.jp",
     "com.ua", "org.ua", "gov.ua", "com.au", "net.au", "gov.au", "com.cn", "gov.cn", "com.tw", "com.hk",
     "co.in", "com.br", "com.tr", "co.il", "com.sg", "co.za", "com.ru", "org.ru", "msk.ru", "spb.ru"}
)


def registered_domain(url: str) -> str:
    """The domain an organisation registered: `news.bbc.co.uk` → `bbc.co.uk`, `m.yna.co.kr` → `yna.co.kr`."""
    host = (urlsplit(url.strip()).hostname or "").lower().rstrip(".")
    labels = host.split(".")
    if len(labels) <= 2 or host.replace(".", "").isdigit():
        return host
    keep = 3 if ".".join(labels[-2:]) in _TWO_LEVEL_SUFFIXES else 2
    return ".".join(labels[-keep:])


def content_hash(*parts: str) -> str:
    """A hash of the folded text: the same words in another layout hash alike."""
    return hashlib.sha256(" ".join(fold(p) for p in parts).encode()).hexdigest()[:32]
