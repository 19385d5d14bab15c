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
from collections.abc import Iterable
from functools import cached_property, lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Letters whose accents carry no meaning for matching: Latin, Greek, Cyrillic, Armenian, Hebrew,
# Arabic and Latin Extended Additional. Elsewhere (kana dakuten, Indic vowel signs) marks are letters.
_STRIP_MARKS_BELOW = 0x0700
_LATIN_EXTENDED_ADDITIONAL = range(0x1E00, 0x2000)

# Traditional Chinese characters of this monitor's subjects folded to their simplified forms (朝鮮 =
# 朝鲜, 無人機 = 无人机): common characters of news on states, armies, weapons, trade and sanctions.
# Folding only merges, so a Japanese text written with the same characters folds alike with its terms.
_TRADITIONAL = (
    "鮮羅無機軍隊勞動導彈飛藥砲廠製國際協議條約簽戰爭夥關係聯蘇韓東亞對話說發經濟過進種團員業產車電網報衛潛裝"
    "備運輸貨貿財務資凍結實體個們這為與於將來會時從後還據稱傳聞記兩萬億數師長門問題開邊區內義構點線當處術達銷訓"
    "練習擊黨領層總統歐決級專組織計劃畫預設場艦轉讓獲準購買賣錢銀帳戶額僱傭烏蘭紅庫爾圖館現況間佈證調認確"
)
_SIMPLIFIED = (
    "鲜罗无机军队劳动导弹飞药炮厂制国际协议条约签战争伙关系联苏韩东亚对话说发经济过进种团员业产车电网报卫潜装"
    "备运输货贸财务资冻结实体个们这为与于将来会时从后还据称传闻记两万亿数师长门问题开边区内义构点线当处术达销训"
    "练习击党领层总统欧决级专组织计划画预设场舰转让获准购买卖钱银帐户额雇佣乌兰红库尔图馆现况间布证调认确"
)

# Persian and Arabic write some letters differently; fold them to one form.
_VARIANTS = str.maketrans({"ی": "ي", "ى": "ي", "ک": "ك", "ۀ": "ه", "ة": "ه", **dict(zip(_TRADITIONAL, _SIMPLIFIED,
                                                                                          strict=True))})


# Han, kana and Hangul: the scripts written without spaces between words (or with particles attached).
_HANGUL_RANGES = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF))  # jamo, compatibility jamo, syllables
_CJK_RANGES = tuple(sorted(_HANGUL_RANGES + (
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F),  # Han: ext. A, unified, compat., B+
)))


def _bounds(ranges: tuple[tuple[int, int], ...]) -> list[int]:
    """Sorted ranges as boundaries: a code point is inside when an odd number of them are at or below it."""
    return [bound for first, last in ranges for bound in (first, last + 1)]


_CJK_BOUNDS = _bounds(_CJK_RANGES)
_HANGUL_BOUNDS = _bounds(_HANGUL_RANGES)


def _range_class(ranges: tuple[tuple[int, int], ...]) -> str:
    """A regex class body for code point ranges."""
    return "".join(f"{chr(first)}-{chr(last)}" for first, last in ranges)


_CJK_CLASS = _range_class(_CJK_RANGES)


def is_cjk(char: str) -> bool:
    """Han, kana and Hangul: scripts written without spaces between words (or particles attached)."""
    return bisect_right(_CJK_BOUNDS, ord(char)) % 2 == 1


@lru_cache(maxsize=65536)
def fold_char(char: str) -> str:
    """One character folded for matching; "" drops it, " " makes it a separator."""
    out: list[str] = []
    for folded in unicodedata.normalize("NFKC", char).casefold().translate(_VARIANTS):
        for part in unicodedata.normalize("NFKD", folded):
            category = unicodedata.category(part)
            if category == "Mn" and (ord(folded) < _STRIP_MARKS_BELOW or ord(folded) in _LATIN_EXTENDED_ADDITIONAL
                                     or (out and out[-1] == " ")):  # a mark on a separator ("↚") goes with it
                continue
            if category == "Nd":
                out.append(str(unicodedata.digit(part)))  # Persian and Arabic-Indic digits
            elif part.isalnum() or category in ("Mn", "Mc"):
                out.append(part)
            else:
                out.append(" ")
    text = unicodedata.normalize("NFC", "".join(out))
    return " " if text and not text.strip() else text  # "…" is one separator, not three


def fold(text: str) -> str:
    """`text` folded for matching: words separated by single spaces."""
    return Folded.of(text).text


class _Offsets:
    """A monotone map between the offsets of a text before and after some stretches were replaced.

    Each replacement `(old_start, old_length, new_length)` stands for `old_length` characters that became
    `new_length` ones; every new character of a replacement comes from its first old one.
    """

    __slots__ = ("_old", "_new", "_replacements")

    def __init__(self, replacements: list[tuple[int, int, int]]) -> None:
        self._replacements = replacements
        self._old = [r[0] for r in replacements]
        self._new = []
        shift = 0
        for old_start, old_length, new_length in replacements:
            self._new.append(old_start + shift)
            shift += new_length - old_length

    def to_old(self, new: int) -> int:
        k = bisect_right(self._new, new) - 1
        if k < 0:
            return new
        old_start, old_length, new_length = self._replacements[k]
        new_start = self._new[k]
        if new < new_start + new_length:
            return old_start
        return new - new_start - new_length + old_start + old_length

    def to_new(self, old: int) -> int:
        """The first new offset whose old offset is at or after `old`."""
        k = bisect_right(self._old, old) - 1
        if k < 0:
            return old
        old_start, old_length, new_length = self._replacements[k]
        new_start = self._new[k]
        if old == old_start:
            return new_start
        if old < old_start + old_length:
            return new_start + new_length
        return old - old_start - old_length + new_start + new_length


class _Collapsed:
    """The map of runs of spaces collapsed to one and the ends trimmed, worked out on first use: most
    texts match nothing and are never mapped back."""

    __slots__ = ("_before", "_offsets")

    def __init__(self, before: str) -> None:
        self._before = before
        self._offsets: _Offsets | None = None

    def _map(self) -> _Offsets:
        if self._offsets is None:
            runs = [(m.start(), m.end() - m.start(), 1) for m in _SPACES.finditer(self._before)]
            if self._before.startswith(" "):
                if runs and runs[0][0] == 0:
                    runs[0] = (0, runs[0][1], 0)
                else:
                    runs.insert(0, (0, 1, 0))
            self._offsets = _Offsets(runs)
        return self._offsets

    def to_old(self, new: int) -> int:
        return self._map().to_old(new)

    def to_new(self, old: int) -> int:
        return self._map().to_new(old)


class _Explicit:
    """The reference fold's map: one original offset per folded character."""

    __slots__ = ("_origin",)

    def __init__(self, origin: list[int]) -> None:
        self._origin = origin

    def to_old(self, new: int) -> int:
        return self._origin[new]

    def to_new(self, old: int) -> int:
        return bisect_left(self._origin, old)


# The fast fold: `str.lower` (C speed; for mostly-ASCII text the byte table lower-cases instead), ASCII
# separators to spaces by a byte table, then one regex pass that sends only the characters whose fold
# differs from themselves (other separators, accented letters, capitals beyond ASCII, traditional Han)
# through `fold_char`. Most letters of the scripts below fold to themselves once lower-cased; `_REGULAR`
# lists them (tests check every character against `fold_char`).
_ASCII_SEPARATORS = bytes(b if chr(b).isalnum() or b >= 0x80 else 0x20 for b in range(256))
_ASCII_FOLD = _ASCII_SEPARATORS.lower()  # and A-Z to a-z
_SPACES = re.compile(r"  +")
# A class's first character must be a class of its own for `re` to skip ahead at C speed: `[c][c]*` finds
# runs three times faster than `[c]+`. The same holds for edges, so an edge into CJK is found as an edge
# out of it in the reversed text.
_CJK_CHAR = re.compile(f"[{_CJK_CLASS}]")
_CJK_RUN = re.compile(f"[{_CJK_CLASS}][{_CJK_CLASS}]*")
_OUT_OF_CJK = re.compile(f"[{_CJK_CLASS}][^ {_CJK_CLASS}]")
_HANGUL = re.compile(f"[{_range_class(_HANGUL_RANGES)}]")


def _class_of(codes: Iterable[int]) -> str:
    """A regex class body for a set of code points, as ranges."""
    ranges: list[list[int]] = []
    for code in sorted(codes):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


_CHECKED = [*range(0x00A0, 0x0B00), *range(0x0E00, 0x0F00), *range(0x2000, 0x2070), *range(0x3000, 0x3100),
            *range(0xFF00, 0xFFF0)]
# Hangul syllables and Han fold to themselves (test_text.py checks it), but for the traditional forms.
_REGULAR = _class_of(
    [c for c in _CHECKED if fold_char(chr(c)) == chr(c)]
    + [c for c in [*range(0xAC00, 0xD7A4), *range(0x4E00, 0xA000)] if chr(c) not in _TRADITIONAL]
)
_IRREGULAR = re.compile(f"[^\\x20-\\x7e{_REGULAR}]")


# UTF-8 lead bytes of U+1000–U+1FFF (Hangul jamo among them) and of U+3000 and up; with U+2E80–U+2FFF
# (E2 BA–BF: radicals that fold to Han) they are every CJK character and every one that folds to one
# (test_text.py checks each). Two C passes over the bytes rule CJK out, where a regex pass costs 11 µs.
_CJK_LEADS = bytes(1 if b == 0xE1 or b >= 0xE3 else 0 for b in range(256))
_RADICALS = re.compile(rb"\xe2[\xba-\xbf]")


def _may_hold_cjk(data: bytes) -> bool:
    """Whether UTF-8 `data` may hold a CJK character once folded (False: it certainly does not)."""
    return b"\x01" in data.translate(_CJK_LEADS) or _RADICALS.search(data) is not None


def _cjk_edges(text: str, first: int) -> list[int]:
    """Where a CJK character meets another script's letter (a word boundary to insert); `first`: the
    first CJK character. Korean puts spaces between its words, so there two regex passes beat a look at
    each run of CJK characters."""
    if _HANGUL.search(text, first):
        into = [len(text) - 1 - m.start() for m in _OUT_OF_CJK.finditer(text[::-1])]
        return sorted(into + [m.start() + 1 for m in _OUT_OF_CJK.finditer(text, first)])
    edges = []
    for run in _CJK_RUN.finditer(text, first):
        start, end = run.span()
        if start and text[start - 1] != " ":
            edges.append(start)
        if end < len(text) and text[end] != " ":
            edges.append(end)
    return edges


def _fold_fast(original: str) -> tuple[str, tuple[_Offsets | _Collapsed, ...]] | None:
    data = original.encode("utf-8")
    if len(data) - len(original) <= len(original) // 64:
        # Mostly ASCII (English with curly quotes): the byte table lower-cases too, and the few other
        # capitals go through `fold_char` with the rest. `str.lower` costs as much as a regex pass
        # once a text holds a single character beyond Latin-1.
        text = data.translate(_ASCII_FOLD).decode("utf-8")
    else:
        lowered = original.lower()
        if len(lowered) != len(original):  # "İ" lower-cases to two characters: take the reference path
            return None
        text = lowered.encode("utf-8").translate(_ASCII_SEPARATORS).decode("utf-8")
    maps: list[_Offsets | _Collapsed] = []
    if not text.isascii():
        resized: list[tuple[int, int, int]] = []

        def one(m: re.Match[str]) -> str:
            out = fold_char(m.group())
            if len(out) != 1:
                resized.append((m.start(), 1, len(out)))
            return out

        text = _IRREGULAR.sub(one, text)
        if resized:
            maps.append(_Offsets(resized))
        cjk = _CJK_CHAR.search(text) if _may_hold_cjk(data) else None
        if cjk is not None:
            edges = _cjk_edges(text, cjk.start())
            if edges:
                text = " ".join(text[a:b] for a, b in zip([0, *edges], [*edges, len(text)], strict=True))
                maps.append(_Offsets([(edge, 0, 1) for edge in edges]))
    if "  " in text or text.startswith(" ") or text.endswith(" "):
        maps.append(_Collapsed(text))
        text = _SPACES.sub(" ", text).strip(" ")
    return text, tuple(maps)


class Folded:
    """Folded text and the way back from each of its characters to the original one it came from."""

    __slots__ = ("text", "_maps")

    def __init__(self, text: str, maps: tuple[_Offsets | _Collapsed | _Explicit, ...] = ()) -> None:
        self.text = text
        self._maps = maps

    @classmethod
    def of(cls, original: str) -> Folded:
        fast = _fold_fast(original)
        return cls(*fast) if fast is not None else cls.reference(original)

    @classmethod
    def reference(cls, original: str) -> Folded:
        """The definition of folding, one character at a time (slow; `of` gives the same result)."""
        chars: list[str] = []
        origin: list[int] = []
        for index, char in enumerate(original):
            for out in fold_char(char):
                if chars and out != " " and chars[-1] != " " and is_cjk(out) != is_cjk(chars[-1]):
                    chars.append(" ")  # a CJK character next to another script's letter: a boundary
                    origin.append(index)
                if out == " " and (not chars or chars[-1] == " "):
                    continue
                chars.append(out)
                origin.append(index)
        if chars and chars[-1] == " ":
            chars.pop()
            origin.pop()
        return cls("".join(chars), (_Explicit(origin),))

    def origin(self, index: int) -> int:
        """The original offset the folded character at `index` came from."""
        for offsets in reversed(self._maps):
            index = offsets.to_old(index)
        return index

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of the folded range [start, end)."""
        return self.origin(start), self.origin(end - 1) + 1

    def folded_index(self, original_index: int) -> int:
        """The first folded character at or after an original offset."""
        for offsets in self._maps:
            original_index = offsets.to_new(original_index)
        return min(original_index, len(self.text))


# A sentence ends at . ! ? … (and their CJK forms) before a space, or at a line break. A dot does not
# end one after a lone capital or a common abbreviation ("U.S.", "Gen.", "тыс."), after a number of
# one or two digits (ordinal dates: "am 19. Juni", "19. června"), or before a lower-case word
# ("2024. gada", "1 тыс. контейнеров"): sentences in cased scripts start with a capital.
# (One leading class, so that `re` skips to the candidates at C speed; the branches then tell them apart.)
_SENTENCE_END = re.compile(r"[.!?…。！？](?:(?<=[。！？])\s*|(?<=[.!?…])[\"'”’»)\]]*\s+)")
_LINE_BREAK = re.compile(r"\n\s*")
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
    starts = {0} | {m.end() for m in _LINE_BREAK.finditer(text) if m.end() < len(text)}
    for boundary in _SENTENCE_END.finditer(text):
        end = boundary.end()
        mark = boundary.start() + 1  # just after the punctuation
        if end >= len(text) or ("\n" not in text[mark:end] and _continues(text, mark, end)):
            continue
        starts.add(end)
    return sorted(starts)


def _continues(text: str, dot: int, following: int) -> bool:
    """Whether the sentence goes on past the dot at `dot - 1` (see the comment above)."""
    if dot == 0 or text[dot - 1] != ".":
        return False
    if text[following].islower():
        return True
    before = text[max(0, dot - 41):dot - 1].rsplit(None, 1)  # the word before the dot (a long one is no abbreviation)
    word = before[-1].lstrip("(\"'«“").lower() if before else ""
    return len(word) == 1 or word in _ABBREVIATIONS or (word.isdigit() and len(word) <= 2)


_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")


def paragraph_starts(text: str) -> list[int]:
    """Original offsets where paragraphs (blocks separated by a blank line) begin."""
    return [0] + [m.end() for m in _PARAGRAPH_BREAK.finditer(text) if m.end() < len(text)]


class Document:
    """One field of an article, prepared for matching: folded text plus the word, sentence and paragraph
    that each folded offset is in. The structure is worked out on first use: most texts match no rule
    that needs it."""

    def __init__(self, original: str) -> None:
        self.original = original
        self.folded = Folded.of(original)
        self._sentence_of: dict[int, int] = {}

    @classmethod
    def of(cls, original: str) -> Document:
        return cls(original)

    @property
    def text(self) -> str:
        return self.folded.text

    @cached_property
    def _cjk_runs(self) -> tuple[list[int], list[int], list[int]]:
        """The runs of CJK characters: starts, ends, and the CJK characters before each run that are not
        the first of theirs (each CJK character is a word; folding put a space around every run)."""
        starts, ends, extra = [], [], [0]
        for run in _CJK_RUN.finditer(self.folded.text):
            starts.append(run.start())
            ends.append(run.end())
            extra.append(extra[-1] + run.end() - run.start() - 1)
        return starts, ends, extra

    def word_at(self, index: int) -> int:
        """The number of the word holding folded offset `index` (a space belongs to the word before it)."""
        text = self.folded.text
        number = text.count(" ", 0, index + 1) - (text[index:index + 1] == " ")
        starts, ends, extra = self._cjk_runs
        run = bisect_right(starts, index) - 1
        return number if run < 0 else number + extra[run] + min(index, ends[run] - 1) - starts[run]

    @cached_property
    def original_sentence_starts(self) -> tuple[int, ...]:
        return tuple(sentence_starts(self.original))

    @cached_property
    def original_paragraph_starts(self) -> tuple[int, ...]:
        return tuple(paragraph_starts(self.original))

    def sentence_at(self, index: int) -> int:
        """The number of the sentence holding folded offset `index` (remembered: every sentence `near` of
        every rule asks again for the same hits)."""
        number = self._sentence_of.get(index)
        if number is None:
            number = self._sentence_of[index] = bisect_right(self.original_sentence_starts,
                                                             self.folded.origin(index)) - 1
        return number

    def paragraph_at(self, index: int) -> int:
        return bisect_right(self.original_paragraph_starts, self.folded.origin(index)) - 1

    def original_sentence(self, number: int) -> tuple[int, int]:
        """Original [start, end) of sentence `number`, trailing whitespace excluded."""
        starts = self.original_sentence_starts
        start = starts[number]
        end = starts[number + 1] if number + 1 < len(starts) else len(self.original)
        while end > start and self.original[end - 1].isspace():
            end -= 1
        return start, end


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


# Letters that tell one language of a script from its neighbours.
_CYRILLIC_MARKERS = (("uk", "іїєґ"), ("be", "ў"), ("sr", "ђћџ"), ("mk", "ѓќѕ"), ("ru", "ыэё"), ("bg", "ъ"))
_ARABIC_MARKERS = (("ur", "ٹڈڑںے"), ("fa", "پچژگکی"))


def script_language(text: str, sample: int = 2000) -> str | None:
    """The language a text's script tells without doubt (Hangul → ko, kana → ja, Han → zh, Hebrew → he,
    Greek → el, Thai → th, Devanagari → hi, Cyrillic and Arabic by their distinctive letters), else None.
    Latin-script languages are not guessed: a filter on them needs the language from the source."""
    counts: dict[str, int] = {}
    letters = [c for c in text[:sample].lower() if c.isalpha()]
    for char in letters:
        script = _script(char)
        counts[script] = counts.get(script, 0) + 1
    if not counts:
        return None
    script = max(counts, key=lambda s: counts[s])
    if script == "hangul" or (script == "han" and counts.get("hangul")):
        return "ko"
    if script == "kana" or (script == "han" and counts.get("kana")):
        return "ja"
    if script in ("cyrillic", "arabic"):
        markers = _CYRILLIC_MARKERS if script == "cyrillic" else _ARABIC_MARKERS
        present = set(letters)
        return next((lang for lang, chars in markers if present & set(chars)), "ar" if script == "arabic" else None)
    return {"han": "zh", "hebrew": "he", "greek": "el", "thai": "th", "devanagari": "hi"}.get(script)


def _script(char: str) -> str:
    code = ord(char)
    if is_cjk(char):
        return "hangul" if bisect_right(_HANGUL_BOUNDS, code) % 2 else "kana" if 0x3040 <= code <= 0x30FF else "han"
    for script, first, last in _SCRIPT_RANGES:
        if first <= code <= last:
            return script
    return "other"


_SCRIPT_RANGES = (
    ("latin", 0x0041, 0x024F), ("greek", 0x0370, 0x03FF), ("cyrillic", 0x0400, 0x052F),
    ("hebrew", 0x0590, 0x05FF), ("arabic", 0x0600, 0x06FF), ("devanagari", 0x0900, 0x097F),
    ("thai", 0x0E00, 0x0E7F), ("latin", 0x1E00, 0x1EFF),
)
