"""YAML rule and lexicon files → a `RuleSet`, with every error located at file:line:column.

Errors are collected, not raised one at a time, so an author sees all of them in one pass.
PyYAML's node tree keeps each value's position; `_Node` carries it to the checks below.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import RuleError, RuleErrors
from monitor.models import FIELDS, SEVERITIES
from monitor.rules.model import (
    AllOf,
    AnyOf,
    Concept,
    ConceptRef,
    Condition,
    Location,
    Near,
    NoneOf,
    Rule,
    RuleSet,
    Term,
    TermRef,
    Window,
)

RULE_KEYS = {"id", "title", "description", "severity", "tags", "match", "fields", "enabled", "concepts"}
CONCEPT_KEYS = {"description", "terms", "entities"}
CONDITION_KEYS = {"all", "any", "not", "concept", "term", "terms", "near"}


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
    concepts: dict[str, Concept] = {}
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
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        errors.add(Location(str(path), line, column), f"not valid YAML: {exc.problem}")
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        errors.add(Location(str(path)), f"cannot read: {exc}")
        return None
    if node is None:
        errors.add(Location(str(path), 1, 1), "the file is empty")
        return None
    return _convert(node, str(path), errors)


def _convert(node: yaml.Node, file: str, errors: _Collector) -> _Node:
    where = Location(file, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        value: dict[str, _Node] = {}
        key_where: dict[str, Location] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where_key = Location(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
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
            errors.add(where, f'concept "{name}" is defined twice (first at {concepts[name].location})')
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
    terms = tuple(_terms(node.value["terms"], errors)) if "terms" in node.value else ()
    entities: list[tuple[str, tuple[Term, ...]]] = []
    if "entities" in node.value and _expect_mapping(node.value["entities"], errors, "entity names with aliases"):
        for entity, aliases in node.value["entities"].value.items():
            entities.append((entity, tuple(_terms(aliases, errors))))
    if not terms and not entities:
        errors.add(where, f'concept "{name}" has no terms; give it `terms:` or `entities:`')
        return None
    description = node.value["description"].value if "description" in node.value else ""
    return Concept(name, terms, tuple(entities), str(description or ""), where)


def _terms(node: _Node, errors: _Collector) -> Iterator[Term]:
    for item in _strings(node, errors, "a term"):
        text = item.value
        if text.startswith("/") and text.endswith("/") and len(text) > 1:
            errors.add(item.where, f"regular-expression terms ({text}) are not supported yet; write the phrase")
            continue
        term = Term.parse(text)
        if not term.pieces:
            errors.add(item.where, f'the term "{text}" has no letters or digits to match')
            continue
        yield term


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
    severity = str(values["severity"].value) if "severity" in values else "medium"
    if severity not in SEVERITIES:
        errors.add(values["severity"].where, f'severity "{severity}" is not one of {", ".join(SEVERITIES)}')
    tags = tuple(n.value for n in _strings(values["tags"], errors, "a tag")) if "tags" in values else ()
    fields = tuple(n.value for n in _strings(values["fields"], errors, "a field")) if "fields" in values else FIELDS
    for name in set(fields) - set(FIELDS):
        errors.add(values["fields"].where, f'unknown field "{name}"; fields are {", ".join(FIELDS)}')
    condition = _condition(values["match"], concepts, errors)
    enabled = values["enabled"].value if "enabled" in values else True
    if len(errors.errors) > before or condition is None:
        return None
    return Rule(
        id=str(values["id"].value),
        title=str(values["title"].value),
        severity=severity,
        tags=tags,
        condition=condition,
        fields=fields,
        description=str(values["description"].value) if "description" in values else "",
        enabled=bool(enabled),
        location=doc.where,
    )


def _check_unique_ids(rules: list[Rule], errors: _Collector) -> None:
    seen: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in seen:
            errors.add(rule.location, f'rule id "{rule.id}" is also used at {seen[rule.id].location}')
        seen[rule.id] = rule


def _condition(node: _Node, concepts: dict[str, Concept], errors: _Collector) -> Condition | None:
    if isinstance(node.value, list):  # a bare list means all of them
        return _all_of(node, concepts, errors)
    if not _expect_mapping(node, errors, f"a condition ({', '.join(sorted(CONDITION_KEYS))})"):
        return None
    _unknown_keys(node, CONDITION_KEYS, errors, "a condition")
    parts = [p for key, child in node.value.items() if (p := _operator(key, child, concepts, errors))]
    if not parts:
        if not node.value:
            errors.add(node.where, "empty condition")
        return None
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
        if not isinstance(node.value, str) or node.value not in concepts:
            known = ", ".join(sorted(concepts)[:8]) + ("…" if len(concepts) > 8 else "")
            errors.add(node.where, f'unknown concept "{node.value}"; define it in rules/lexicons/ (known: {known})')
            return None
        return ConceptRef(node.value)
    if key in ("term", "terms"):
        refs = tuple(TermRef(t) for t in _terms(node, errors))
        if not refs:
            return None
        return refs[0] if len(refs) == 1 else AnyOf(refs)
    if key == "near":
        return _near(node, concepts, errors)
    return None


def _all_of(node: _Node, concepts: dict[str, Concept], errors: _Collector) -> Condition | None:
    children = _children(node, concepts, errors)
    return AllOf(children) if children else None


def _children(node: _Node, concepts: dict[str, Concept], errors: _Collector) -> tuple[Condition, ...]:
    items = node.value if isinstance(node.value, list) else [node]
    if not items:
        errors.add(node.where, "empty list of conditions")
    return tuple(c for c in (_condition(i, concepts, errors) for i in items) if c is not None)


def _near(node: _Node, concepts: dict[str, Concept], errors: _Collector) -> Condition | None:
    if not _expect_mapping(node, errors, "near: {within: sentence | paragraph | N, of: [conditions]}"):
        return None
    _unknown_keys(node, {"within", "of"}, errors, "near")
    window = _window(node.value.get("within"), node.where, errors)
    if "of" not in node.value:
        errors.add(node.where, "near needs `of:` with the conditions that must occur together")
        return None
    operands = _children(node.value["of"], concepts, errors)
    if len(operands) < 2:
        errors.add(node.value["of"].where, "near needs at least two conditions in `of:`")
        return None
    return Near(window, operands) if window else None


def _window(node: _Node | None, where: Location, errors: _Collector) -> Window | None:
    if node is None:
        return Window("sentence")
    value = node.value
    if value in ("sentence", "paragraph"):
        return Window(value)
    text = str(value).strip()
    number = text.removesuffix("words").removesuffix("word").strip()
    if number.isdigit() and int(number) > 0:
        return Window("words", int(number))
    errors.add(node.where, f'within: "{value}" is not sentence, paragraph or a number of words like 8')
    return None
