"""A sanctions list's names as a lexicon concept, so a rule can say "any designated DPRK entity".

Each designation becomes one named entity of the concept, with its name and aliases as terms, plus
the forms a news text would use: "SURNAME, Given" also as "Given SURNAME", Cyrillic names also
transliterated to Latin (BGN/PCGN-like, as English-language wires spell them), and accented Latin
names also without accents. Terms are phrases, never wildcards or regular expressions: characters
the rule language gives a meaning to (`*`, a leading `/`) are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from monitor.sources.lists import Designation

MIN_TERM = 3  # shorter aliases ("AB", a bare initial) match everywhere
_CYRILLIC = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ",
    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u",
     "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya", "i", "yi", "ye", "g"], strict=True))
_KEY = re.compile(r"[^a-z0-9]+")


def transliterate(text: str) -> str:
    """Cyrillic letters in Latin; everything else as it was. Capitals stay capitals."""
    out = []
    for char in text:
        latin = _CYRILLIC.get(char.lower())
        out.append(char if latin is None else latin.capitalize() if char.isupper() else latin)
    return "".join(out)


def without_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def term_forms(name: str) -> list[str]:
    """A listed name and the ways a text would write it."""
    name = " ".join(name.replace("*", " ").split()).lstrip("/").strip()
    forms = [name]
    if name.count(",") == 1:
        surname, given = (p.strip() for p in name.split(","))
        if surname and given:
            forms.append(f"{given} {surname}")
    forms += [transliterate(f) for f in forms] + [without_accents(f) for f in forms]
    return [f for f in dict.fromkeys(forms) if len(f) >= MIN_TERM]


def entity_key(designation: Designation) -> str:
    key = _KEY.sub("_", without_accents(transliterate(designation.name)).lower()).strip("_")[:60]
    return key or _KEY.sub("_", designation.key.lower()).strip("_") or "entry"


def chosen(designations: Iterable[Designation], programs: Sequence[str] = (), types: Sequence[str] = (),
           ) -> list[Designation]:
    """The designations under any of `programs` (a case-insensitive part of a program's name) and of
    any of `types`; all of them when neither is given."""
    wanted = [p.casefold() for p in programs]
    kinds = {t.casefold() for t in types}
    return [d for d in designations
            if (not wanted or any(w in p.casefold() for p in d.programs for w in wanted))
            and (not kinds or d.type.casefold() in kinds)]


def lexicon(designations: Sequence[Designation], concept: str, description: str) -> dict[str, Any]:
    """`{"concepts": {concept: {"description": …, "entities": {key: [terms]}}}}`, ready for YAML."""
    entities: dict[str, list[str]] = {}
    for designation in designations:
        terms = [t for name in (designation.name, *designation.aliases) for t in term_forms(name)]
        if not terms:
            continue
        key, n = entity_key(designation), 2
        while key in entities:
            key, n = f"{entity_key(designation)}_{n}", n + 1
        entities[key] = list(dict.fromkeys(terms))
    return {"concepts": {concept: {"description": description, "entities": entities}}}
