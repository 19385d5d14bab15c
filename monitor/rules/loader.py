"""YAML rule and lexicon files → a `RuleSet`, with every error located at file:line:column.

Errors are collected, not raised one at a time, so an author sees all of them in one pass.
PyYAML's node tree keeps each value's position; `_Node` carries it to the checks below.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from monitor.config import parse_duration
from monitor.errors import RuleError, RuleErrors
from monitor.grading import STAGES
from monitor.models import FIELDS, SEVERITIES
from monitor.rules.builtin import HEDGE_BY_LANGUAGE, HEDGE_EXCEPTIONS, HEDGE_TERMS, QUANTITY_TERMS
from monitor.rules.model import (
    STATUSES,
    AllOf,
    AnyOf,
    Concept,
    ConceptRef,
    Condition,
    Count,
    Example,
    InFields,
    Location,
    Near,
    NoneOf,
    Realert,
    Rule,
    RuleSet,
    Term,
    TermRef,
    Window,
    Year,
)

RULE_KEYS = {
    "id", "title", "description", "severity", "tags", "match", "fields", "enabled", "concepts", "status", "author",
    "falsepositives", "references", "languages", "sources", "examples", "window", "min_sources", "realert",
    "min_grade", "stages", "notify_on",
}
CONCEPT_KEYS = {"description", "terms", "entities", "not_in"}
TERM_KEYS = {"term", "lang", "not_in"}
CONDITION_KEYS = {"all", "any", "not", "concept", "term", "terms", "near", "count", "field", "year"}
NEAR_KEYS = {"within", "of", "ordered", "unless", "asserted"}
EXAMPLE_KEYS = {"text", "title", "language", "source"}


@dataclass(frozen=True)
class _Node:
    """A YAML value with where it stood."""

    value: Any  # str | bool | int | float | None | list[_Node] | dict[str, _Node]
    where: Location
    key_where: dict[str, Location] | None = None


class _Collector:
    def __init__(self) -> None:
        self.errors: list[RuleError] = []

    def add(self, where: Location, message: str) -> None:
        self.errors.append(RuleError(message, where.file, where.line, where.column))


def load_rules(directory: str | Path) -> RuleSet:
    """Load `directory/*.yaml` (rules) and `directory/lexicons/*.yaml` (shared concepts)."""
    root = Path(directory)
    if not root.is_dir():
        raise RuleErrors([RuleError("rules directory not found; pass --rules DIR or set rules_dir", str(root))])
    errors = _Collector()
    concepts: dict[str, Concept] = builtin_concepts()
    rule_nodes: list[_Node] = []
    for path in sorted((root / "lexicons").glob("*.y*ml")):
        doc = _read(path, errors)
        if doc is not None:
            _concepts_from(doc, concepts, errors, require_section=True)
    for path in sorted(root.glob("*.y*ml")):
        doc = _read(path, errors)
        if doc is not None and _expect_mapping(doc, errors, "a rule file is a mapping with id, title, match"):
            if "concepts" in doc.value:
                _concepts_from(doc, concepts, errors, require_section=False)
            rule_nodes.append(doc)
    rules = [r for r in (_rule_from(n, concepts, errors) for n in rule_nodes) if r is not None]
    _check_unique_ids(rules, errors)
    if errors.errors:
        raise RuleErrors(errors.errors)
    return RuleSet(tuple(rules), concepts)


def _read(path: Path, errors: _Collector) -> _Node | None:
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        errors.add(_location(str(path), mark) if mark else Location(str(path), 0, 0), f"not valid YAML: {exc.problem}")
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        errors.add(Location(str(path)), f"cannot read: {exc}")
        return None
    if node is None:
        errors.add(Location(str(path), 1, 1), "the file is empty")
        return None
    return _convert(node, str(path), errors)


def _convert(node: yaml.Node, file: str, errors: _Collector) -> _Node:
    where = _location(file, node.start_mark)
    if isinstance(node, yaml.MappingNode):
        value: dict[str, _Node] = {}
        key_where: dict[str, Location] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where_key = _location(file, key_node.start_mark)
            if key in key_where:  # YAML would silently keep the last one
                errors.add(where_key, f'"{key}" is defined twice (first at line {key_where[key].line})')
                continue
            value[key] = _convert(value_node, file, errors)
            key_where[key] = where_key
        return _Node(value, where, key_where)
    if isinstance(node, yaml.SequenceNode):
        return _Node([_convert(n, file, errors) for n in node.value], where)
    if node.tag == "tag:yaml.org,2002:str":
        return _Node(node.value, where)
    return _Node(yaml.SafeLoader("").construct_object(node), where)  # bools, numbers, null


def _location(file: str, mark: yaml.Mark) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)  # YAML counts from 0


def _expect_mapping(node: _Node, errors: _Collector, what: str) -> bool:
    if not isinstance(node.value, dict):
        errors.add(node.where, f"expected {what}")
        return False
    return True


def _strings(node: _Node, errors: _Collector, what: str) -> Iterator[_Node]:
    items = node.value if isinstance(node.value, list) else [node]
    for item in items:
        if isinstance(item.value, str) and item.value.strip():
            yield item
        else:
            errors.add(item.where, f"{what} must be a non-empty string")


def _unknown_keys(node: _Node, allowed: set[str], errors: _Collector, what: str) -> None:
    assert node.key_where is not None
    for key, where in node.key_where.items():
        if key not in allowed:
            errors.add(where, f'unknown key "{key}" in {what}; expected one of {", ".join(sorted(allowed))}')


# --- concepts -------------------------------------------------------------------------------------

def builtin_concepts() -> dict[str, Concept]:
    """The concepts every rule may use without defining them (see `monitor.rules.builtin`)."""
    where = Location("(built in)")
    terms = [Term.parse(t, not_in=tuple(Term.parse(e) for e in HEDGE_EXCEPTIONS.get(t, ()))) for t in HEDGE_TERMS]
    terms += [Term.parse(t, frozenset({lang})) for lang, words in HEDGE_BY_LANGUAGE.items() for t in words]
    unique = tuple({t.key: t for t in terms}.values())
    quantity = tuple({t.key: t for t in map(Term.parse, QUANTITY_TERMS)}.values())
    return {"hedge": Concept("hedge", unique, (), "hedges, hearsay, plans and conditions (built in)", where, True),
            "quantity": Concept("quantity", quantity, (), "a number, in digits or words (built in)", where, True)}


def _concepts_from(doc: _Node, concepts: dict[str, Concept], errors: _Collector, require_section: bool) -> None:
    if not _expect_mapping(doc, errors, "a mapping with a `concepts:` section"):
        return
    section = doc.value.get("concepts")
    if section is None:
        if require_section:
            errors.add(doc.where, "a lexicon file needs a `concepts:` section")
        return
    if not _expect_mapping(section, errors, "concept names, each with terms or entities"):
        return
    for name, node in section.value.items():
        where = section.key_where[name] if section.key_where else node.where
        if name in concepts:
            first = concepts[name]
            hint = "it is built in; give yours another name" if first.builtin else f"first at {first.location}"
            errors.add(where, f'concept "{name}" is defined twice ({hint})')
            continue
        concept = _concept_from(name, node, where, errors)
        if concept is not None:
            concepts[name] = concept


def _concept_from(name: str, node: _Node, where: Location, errors: _Collector) -> Concept | None:
    if isinstance(node.value, list):  # shorthand: a concept given as its list of terms
        node = _Node({"terms": node}, node.where, {"terms": node.where})
    if not _expect_mapping(node, errors, f'concept "{name}" to have terms and/or entities'):
        return None
    _unknown_keys(node, CONCEPT_KEYS, errors, f'concept "{name}"')
    shared = tuple(_plain_terms(node.value["not_in"], errors)) if "not_in" in node.value else ()
    terms = tuple(_terms(node.value["terms"], errors, shared)) if "terms" in node.value else ()
    entities: list[tuple[str, tuple[Term, ...]]] = []
    if "entities" in node.value and _expect_mapping(node.value["entities"], errors, "entity names with aliases"):
        for entity, aliases in node.value["entities"].value.items():
            entities.append((entity, tuple(_terms(aliases, errors, shared))))
    if not terms and not entities:
        errors.add(where, f'concept "{name}" has no terms; give it `terms:` or `entities:`')
        return None
    description = node.value["description"].value if "description" in node.value else ""
    return Concept(name, terms, tuple(entities), str(description or ""), where)


def _terms(node: _Node, errors: _Collector, shared_not_in: tuple[Term, ...] = ()) -> Iterator[Term]:
    """Terms: strings, or mappings `{term: "si", lang: [fr, es], not_in: ["si bien"]}`."""
    items = node.value if isinstance(node.value, list) else [node]
    for item in items:
        if isinstance(item.value, dict):
            term = _term_mapping(item, errors, shared_not_in)
        elif isinstance(item.value, str) and item.value.strip():
            term = _term(item, errors, frozenset(), shared_not_in)
        else:
            errors.add(item.where, 'a term must be a non-empty string or a mapping {term: "…", lang: [..]}')
            continue
        if term is not None:
            yield term


def _term_mapping(item: _Node, errors: _Collector, shared_not_in: tuple[Term, ...]) -> Term | None:
    _unknown_keys(item, TERM_KEYS, errors, "a term")
    if "term" not in item.value or not isinstance(item.value["term"].value, str):
        errors.add(item.where, 'a term mapping needs `term: "phrase"`')
        return None
    languages: frozenset[str] = frozenset()
    if "lang" in item.value:
        languages = frozenset(_language_codes(item.value["lang"], errors))
    not_in = shared_not_in
    if "not_in" in item.value:
        not_in += tuple(_plain_terms(item.value["not_in"], errors))
    return _term(item.value["term"], errors, languages, not_in)


def _plain_terms(node: _Node, errors: _Collector) -> Iterator[Term]:
    for item in _strings(node, errors, "a phrase of not_in"):
        term = _term(item, errors, frozenset(), ())
        if term is not None and term.regex is not None:
            errors.add(item.where, "not_in takes phrases, not regular expressions")
        elif term is not None:
            yield term


_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


def _language_codes(node: _Node, errors: _Collector) -> Iterator[str]:
    for item in _strings(node, errors, "a language code"):
        code = item.value.strip().lower()
        if _LANGUAGE_CODE.match(code):
            yield code
        else:
            errors.add(item.where, f'"{item.value}" is not a language code; write ISO 639-1 codes like en, ru, ko')


def _term(item: _Node, errors: _Collector, languages: frozenset[str], not_in: tuple[Term, ...]) -> Term | None:
    text: str = item.value
    if text.startswith("/") and text.endswith("/") and len(text) > 2:
        try:
            pattern = re.compile(text[1:-1])
        except re.error as exc:
            errors.add(item.where, f"the regular expression {text} does not compile: {exc}; fix it or write a phrase")
            return None
        return Term(text, (), languages, not_in, pattern, item.where)
    term = Term.parse(text, languages, not_in, item.where)
    if not term.pieces:
        errors.add(item.where, f'the term "{text}" has no letters or digits to match; remove it')
        return None
    return term


# --- rules ----------------------------------------------------------------------------------------

def _rule_from(doc: _Node, concepts: dict[str, Concept], errors: _Collector) -> Rule | None:
    before = len(errors.errors)
    _unknown_keys(doc, RULE_KEYS, errors, "a rule")
    values = doc.value
    for key in ("id", "title", "match"):
        if key not in values:
            errors.add(doc.where, f"a rule needs `{key}:`")
    if len(errors.errors) > before:
        return None
    severity = _choice(values, "severity", SEVERITIES, "medium", errors)
    status = _choice(values, "status", STATUSES, "stable", errors)
    fields = _fields(values["fields"], errors) if "fields" in values else FIELDS
    condition = _condition(values["match"], concepts, errors)
    enabled = _boolean(values, "enabled", True, errors)
    rule_id = str(values["id"].value)
    examples = tuple(_examples(values["examples"], errors)) if "examples" in values else ()
    window, min_sources, realert = _event_policy(values, errors)
    min_grade, stages, notify_on = _grading_policy(values, errors)
    if len(errors.errors) > before or condition is None:
        return None
    return Rule(
        id=rule_id,
        title=str(values["title"].value),
        severity=severity,
        tags=_texts(values, "tags", "a tag", errors),
        condition=condition,
        fields=fields,
        description=_text(values, "description"),
        enabled=enabled,
        location=doc.where,
        status=status,
        author=_text(values, "author"),
        falsepositives=_texts(values, "falsepositives", "a false positive", errors),
        references=_texts(values, "references", "a reference", errors),
        languages=frozenset(_language_codes(values["languages"], errors)) if "languages" in values else frozenset(),
        sources=frozenset(_texts(values, "sources", "a source name or tag", errors)),
        examples=examples,
        window=window,
        min_sources=min_sources,
        realert=realert,
        min_grade=min_grade,
        stages=stages,
        notify_on=notify_on,
    )


def _choice(values: dict[str, _Node], key: str, allowed: tuple[str, ...], default: str, errors: _Collector) -> str:
    if key not in values:
        return default
    value = str(values[key].value)
    if value not in allowed:
        errors.add(values[key].where, f'{key} "{value}" is not one of {", ".join(allowed)}')
    return value


def _boolean(values: dict[str, _Node], key: str, default: bool, errors: _Collector) -> bool:
    if key not in values:
        return default
    value = values[key].value
    if not isinstance(value, bool):
        errors.add(values[key].where, f"{key} must be true or false, not {value!r}")
        return default
    return value


def _text(values: dict[str, _Node], key: str) -> str:
    return str(values[key].value or "") if key in values else ""


def _texts(values: dict[str, _Node], key: str, what: str, errors: _Collector) -> tuple[str, ...]:
    return tuple(n.value for n in _strings(values[key], errors, what)) if key in values else ()


def _event_policy(values: dict[str, _Node], errors: _Collector) -> tuple[timedelta | None, int, Realert]:
    """`window` (a duration), `min_sources` (>= 1) and `realert` (never | a duration | exponential)."""
    window = None
    if "window" in values:
        window = _duration(values["window"], errors, "window")
    min_sources = 1
    if "min_sources" in values:
        node = values["min_sources"]
        if isinstance(node.value, int) and not isinstance(node.value, bool) and node.value >= 1:
            min_sources = node.value
        else:
            errors.add(node.where, f"min_sources must be a whole number of at least 1, not {node.value!r}")
    realert: Realert = "never"
    if "realert" in values:
        node = values["realert"]
        if node.value in ("never", "exponential"):
            realert = node.value
        else:
            duration = _duration(node, errors, "realert", 'never, exponential or ')
            realert = duration if duration is not None else "never"
    return window, min_sources, realert


_GRADE = re.compile(r"^[A-F][1-6]$")
_NOTIFY_ON = ("stage_up", "grade_up")


def _grading_policy(values: dict[str, _Node], errors: _Collector) -> tuple[str | None, tuple[str, ...],
                                                                            tuple[str, ...]]:
    """`min_grade` (an Admiralty code like B2), `stages` and `notify_on` (docs/grading.md)."""
    min_grade = None
    if "min_grade" in values:
        node = values["min_grade"]
        if isinstance(node.value, str) and _GRADE.match(node.value.strip().upper()):
            min_grade = node.value.strip().upper()
        else:
            errors.add(node.where, f"min_grade must be an Admiralty code like B2 (A–F, then 1–6), not {node.value!r}")
    chosen = []
    for key, allowed in (("stages", STAGES), ("notify_on", _NOTIFY_ON)):
        found = _texts(values, key, f"a {key} value", errors)
        for bad in (v for v in found if v not in allowed):
            errors.add(values[key].where, f'{key}: "{bad}" is not one of {", ".join(allowed)}')
        chosen.append(tuple(v for v in found if v in allowed))
    return min_grade, chosen[0], chosen[1]


def _duration(node: _Node, errors: _Collector, key: str, also: str = "") -> timedelta | None:
    try:
        value = parse_duration(node.value) if not isinstance(node.value, bool) else None
    except ValueError:
        value = None
    if value is None or value <= timedelta(0):
        errors.add(node.where, f'{key}: "{node.value}" is not {also}a duration like 72h (units: s, m, h, d)')
        return None
    return value


def _examples(node: _Node, errors: _Collector) -> Iterator[Example]:
    if not _expect_mapping(node, errors, "examples: {match: [texts], no_match: [texts]}"):
        return
    _unknown_keys(node, {"match", "no_match"}, errors, "examples")
    for key, expect in (("match", True), ("no_match", False)):
        if key not in node.value:
            continue
        items = node.value[key].value if isinstance(node.value[key].value, list) else [node.value[key]]
        for item in items:
            example = _example(item, expect, errors)
            if example is not None:
                yield example


def _example(item: _Node, expect: bool, errors: _Collector) -> Example | None:
    if isinstance(item.value, str) and item.value.strip():
        return Example(item.value, expect, location=item.where)
    if isinstance(item.value, dict):
        _unknown_keys(item, EXAMPLE_KEYS, errors, "an example")
        values = item.value
        if "text" not in values and "title" not in values:
            errors.add(item.where, "an example needs `text:` (and may have title, language, source)")
            return None
        language = str(values["language"].value).lower() if "language" in values else None
        return Example(_text(values, "text"), expect, _text(values, "title"), language,
                       _text(values, "source") or "example", item.where)
    errors.add(item.where, "an example is a text, or a mapping with text, title, language, source")
    return None


def _check_unique_ids(rules: list[Rule], errors: _Collector) -> None:
    seen: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in seen:
            where = seen[rule.id].location
            errors.add(rule.location, f'rule id "{rule.id}" is also used at {where}; give each rule its own id')
        seen[rule.id] = rule


def _condition(node: _Node, concepts: dict[str, Concept], errors: _Collector) -> Condition | None:
    if isinstance(node.value, list):  # a bare list means all of them
        return _all_of(node, concepts, errors)
    if not _expect_mapping(node, errors, f"a condition ({', '.join(sorted(CONDITION_KEYS))})"):
        return None
    _unknown_keys(node, CONDITION_KEYS, errors, "a condition")
    scoped = {k: v for k, v in node.value.items() if k != "field"}
    parts = [p for key, child in scoped.items() if (p := _operator(key, child, concepts, errors))]
    if "field" in node.value:
        return _in_fields(node, parts, errors)
    if not parts:
        if not node.value:
            errors.add(node.where, "empty condition; give it an operator such as concept, any, near")
        return None
    return _all(parts)


def _in_fields(node: _Node, parts: list[Condition], errors: _Collector) -> Condition | None:
    fields = _fields(node.value["field"], errors)
    if len(node.value) == 1:
        errors.add(node.where, "field: scopes the other operators of its mapping; add one (e.g. concept: …)")
        return None
    if not parts or not fields or set(fields) - set(FIELDS):
        return None
    return InFields(tuple(f for f in FIELDS if f in fields), _all(parts))


def _fields(node: _Node, errors: _Collector) -> tuple[str, ...]:
    """Field names (`fields:` of a rule, `field:` of a condition), each unknown one reported."""
    fields = tuple(n.value for n in _strings(node, errors, "a field"))
    for name in sorted(set(fields) - set(FIELDS)):
        errors.add(node.where, f'unknown field "{name}"; fields are {", ".join(FIELDS)}')
    return fields


def _all(parts: list[Condition]) -> Condition:
    """One condition that holds when all of `parts` do."""
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _operator(key: str, node: _Node, concepts: dict[str, Concept], errors: _Collector) -> Condition | None:
    if key == "all":
        return _all_of(node, concepts, errors)
    if key == "any":
        children = _children(node, concepts, errors)
        return AnyOf(children) if children else None
    if key == "not":
        children = _children(node, concepts, errors)
        return NoneOf(children) if children else None
    if key == "concept":
        return _concept_ref(node, concepts, errors)
    if key in ("term", "terms"):
        refs = tuple(TermRef(t) for t in _terms(node, errors))
        if not refs:
            return None
        return refs[0] if len(refs) == 1 else AnyOf(refs)
    if key == "near":
        return _near(node, concepts, errors)
    if key == "count":
        return _count(node, concepts, errors)
    if key == "year":
        return _year(node, errors)
    return None


def _concept_ref(node: _Node, concepts: dict[str, Concept], errors: _Collector) -> ConceptRef | None:
    if not isinstance(node.value, str) or node.value not in concepts:
        known = ", ".join(sorted(concepts)[:8]) + ("…" if len(concepts) > 8 else "")
        errors.add(node.where, f'unknown concept "{node.value}"; define it in rules/lexicons/ (known: {known})')
        return None
    return ConceptRef(node.value)


def _all_of(node: _Node, concepts: dict[str, Concept], errors: _Collector) -> Condition | None:
    children = _children(node, concepts, errors)
    return AllOf(children) if children else None


def _children(node: _Node, concepts: dict[str, Concept], errors: _Collector) -> tuple[Condition, ...]:
    items = node.value if isinstance(node.value, list) else [node]
    if not items:
        errors.add(node.where, "empty list of conditions; give at least one")
    return tuple(c for c in (_condition(i, concepts, errors) for i in items) if c is not None)


def _near(node: _Node, concepts: dict[str, Concept], errors: _Collector) -> Condition | None:
    usage = "near: {within: sentence | paragraph | N words | N chars, of: [conditions], ordered, unless, asserted}"
    if not _expect_mapping(node, errors, usage):
        return None
    _unknown_keys(node, NEAR_KEYS, errors, "near")
    window = _window(node.value.get("within"), node.where, errors)
    if "of" not in node.value:
        errors.add(node.where, "near needs `of:` with the conditions that must occur together")
        return None
    operands = list(_children(node.value["of"], concepts, errors))
    positive = [o for o in operands if not isinstance(o, NoneOf)]
    if len(positive) < 1 or len(operands) < 2:
        errors.add(node.value["of"].where, "near needs at least two conditions in `of:`, one of them not a `not`")
        return None
    if "unless" in node.value:
        unless = _children(node.value["unless"], concepts, errors)
        if unless:
            operands.append(NoneOf(unless))
    if _boolean(node.value, "asserted", False, errors):
        operands.append(NoneOf((ConceptRef("hedge"),)))
    ordered = _boolean(node.value, "ordered", False, errors)
    return Near(window, tuple(operands), ordered) if window else None


_WINDOW = re.compile(r"^(\d+)\s*(words?|chars?|characters?)?$")


def _window(node: _Node | None, where: Location, errors: _Collector) -> Window | None:
    if node is None:
        return Window("sentence")
    value = node.value
    if value == "sentence":
        return Window("sentence")
    if value == "paragraph":
        return Window("paragraph")
    found = _WINDOW.match(str(value).strip())
    if found and int(found.group(1)) > 0:
        chars = (found.group(2) or "w").startswith("c")
        return Window("chars" if chars else "words", int(found.group(1)))
    errors.add(node.where, f'within: "{value}" is not sentence, paragraph or a number of words like 8 '
                           f'(or of characters like "20 chars")')
    return None


def _count(node: _Node, concepts: dict[str, Concept], errors: _Collector) -> Condition | None:
    usage = "count: {concept: NAME, at_least: N} (or term: instead of concept:)"
    if not _expect_mapping(node, errors, usage):
        return None
    _unknown_keys(node, {"concept", "term", "at_least"}, errors, "count")
    at_least = node.value.get("at_least")
    if at_least is None or not isinstance(at_least.value, int) or isinstance(at_least.value, bool) \
            or at_least.value < 1:
        errors.add(at_least.where if at_least else node.where, f"count needs at_least: a whole number >= 1; {usage}")
        return None
    leaf: ConceptRef | TermRef | None = None
    if "concept" in node.value:
        leaf = _concept_ref(node.value["concept"], concepts, errors)
    elif "term" in node.value:
        term = next(_terms(node.value["term"], errors), None)
        leaf = TermRef(term) if term else None
    else:
        errors.add(node.where, f"count needs concept: or term:; {usage}")
    return Count(leaf, at_least.value) if leaf else None


def _year(node: _Node, errors: _Collector) -> Condition | None:
    usage = "year: 1950, or year: {from: 1950, to: 1953} (also before: / after:)"
    value = node.value
    if isinstance(value, int) and not isinstance(value, bool):
        return Year(value, value)
    if not _expect_mapping(node, errors, usage):
        return None
    _unknown_keys(node, {"from", "to", "before", "after"}, errors, "year")
    bounds: dict[str, int] = {}
    for key, child in value.items():
        if not isinstance(child.value, int) or isinstance(child.value, bool):
            errors.add(child.where, f"year {key}: must be a year like 1953")
            return None
        bounds[key] = child.value
    first = max(bounds.get("from", 1000), bounds.get("after", 999) + 1)
    last = min(bounds.get("to", 2199), bounds.get("before", 2200) - 1)
    if not bounds or first > last:
        errors.add(node.where, f"the year range is empty or missing; {usage}")
        return None
    return Year(first, last)
