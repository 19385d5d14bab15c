"""The rule language v1 by example: what matches, what does not, and where load errors point."""

from pathlib import Path
from textwrap import dedent

import pytest

from monitor.errors import RuleErrors
from monitor.models import Article
from monitor.rules import Matcher, load_rules

LEXICON = """\
concepts:
  dprk:
    description: North Korea
    terms: ["north korea*", "dprk", "pyongyang", "кндр", "северн* коре*", "북한", "朝鲜"]
  labor:
    terms: ["worker*", "labour*", "рабочи*", "노동자", "劳工"]
  russian_defense_site:
    entities:
      alabuga: ["alabuga", "yelabuga", "алабуг*", "елабуг*", "알라부가"]
      kupol: ["kupol", "купол*"]
  korean_war_history:
    terms: ["korean war"]
  drone:
    terms: ["*drohne*", "shahed 136"]
"""

RULE = """\
id: dprk-labor-russian-defense
title: North Korean labour for Russia's defence industry
severity: high
tags: [dprk_labor, dprk_russia_military]
match:
  all:
    - concept: dprk
    - near: {within: sentence, of: [{concept: labor}, {concept: russian_defense_site}]}
  not:
    - concept: korean_war_history
"""


def write_rules(tmp_path: Path, rules: dict[str, str], lexicon: str = LEXICON) -> Path:
    (tmp_path / "lexicons").mkdir(exist_ok=True)
    (tmp_path / "lexicons" / "base.yaml").write_text(lexicon)
    for name, text in rules.items():
        (tmp_path / name).write_text(dedent(text))
    return tmp_path


def matcher_for(tmp_path: Path, *rules: str) -> Matcher:
    return Matcher(load_rules(write_rules(tmp_path, {f"r{i}.yaml": r for i, r in enumerate(rules)})))


def article(text: str, title: str = "") -> Article:
    return Article(source="test", guid="1", url="https://example.org/1", title=title, content=text)


@pytest.mark.parametrize(
    "text",
    [
        "North Korea is considering sending 25,000 workers to Russia's Alabuga zone in Tatarstan.",
        "КНДР может направить 25 тысяч рабочих в Алабугу.",
        "Рабочие из Северной Кореи прибыли в Елабугу.",
        "북한이 노동자를 알라부가에 보낸다.",
        "NORTH KOREAN WORKERS AT THE ALABUGA PLANT",
    ],
)
def test_the_seed_story_matches_in_any_language(tmp_path: Path, text: str) -> None:
    [match] = matcher_for(tmp_path, RULE).match(article(text))
    assert match.rule_id == "dprk-labor-russian-defense"
    assert match.entities == ("alabuga",)
    assert match.severity == "high"


@pytest.mark.parametrize(
    "text",
    [
        "Kim Jong Un oversaw a cruise missile test on Sunday.",
        "North Korean workers went home. The Alabuga zone expanded.",  # not in one sentence
        "Northern workers at Alabuga.",  # "north korea*" needs both words
        "The Korean War veterans recalled North Korean labourers near Alabuga.",  # excluded
    ],
)
def test_what_does_not_match(tmp_path: Path, text: str) -> None:
    assert matcher_for(tmp_path, RULE).match(article(text)) == []


def test_entities_tell_sites_apart(tmp_path: Path) -> None:
    [match] = matcher_for(tmp_path, RULE).match(article("DPRK labourers were seen at Kupol in Izhevsk."))
    assert match.entities == ("kupol",)


def test_the_snippet_is_the_matched_sentence_with_terms_marked(tmp_path: Path) -> None:
    text = "Markets were calm. Pyongyang will send workers to Alabuga, officials said. Nothing else."
    [match] = matcher_for(tmp_path, RULE).match(article(text, title="A headline"))
    assert match.snippet is not None
    assert match.snippet.marked() == "**Pyongyang** will send **workers** to **Alabuga**, officials said."
    assert {s.text for s in match.spans} == {"Pyongyang", "workers", "Alabuga"}


def test_near_within_words(tmp_path: Path) -> None:
    rule = """\
    id: close
    title: close
    match:
      near: {within: 3, of: [{concept: dprk}, {concept: labor}]}
    """
    m = matcher_for(tmp_path, rule)
    assert m.match(article("DPRK sends many more workers"))
    assert not m.match(article("DPRK sends many, many, many more workers"))


def test_not_inside_near_is_scoped_to_the_window(tmp_path: Path) -> None:
    rule = """\
    id: scoped
    title: scoped
    match:
      near: {within: sentence, of: [{concept: dprk}, {concept: labor}, {not: {term: "plans"}}]}
    """
    m = matcher_for(tmp_path, rule)
    assert m.match(article("Seoul plans talks. DPRK workers arrived."))
    assert not m.match(article("DPRK plans to send workers."))


def test_prefix_suffix_and_substring_terms(tmp_path: Path) -> None:
    rule = """\
    id: drones
    title: drones
    match:
      any: [{concept: drone}, {concept: dprk}]
    """
    m = matcher_for(tmp_path, rule)
    assert m.match(article("Russland baut Kamikazedrohnen in Tatarstan."))  # compound part
    assert m.match(article("The Shahed-136 is cheap."))  # punctuation-insensitive
    assert m.match(article("朝鲜向俄罗斯派兵"))  # Han substring
    assert not m.match(article("The Shahed is cheap."))


def test_inline_terms_and_fields(tmp_path: Path) -> None:
    rule = """\
    id: title-only
    title: title only
    fields: [title]
    match: {terms: ["alabuga", "елабуга"]}
    """
    m = matcher_for(tmp_path, rule)
    assert m.match(article("nothing here", title="Alabuga grows"))
    assert not m.match(article("Alabuga grows", title="nothing here"))


def test_disabled_rules_do_not_run(tmp_path: Path) -> None:
    m = matcher_for(tmp_path, RULE + "enabled: false\n")
    assert m.match(article("DPRK workers at Alabuga.")) == []


def load_errors(tmp_path: Path, rules: dict[str, str], lexicon: str = LEXICON) -> list[str]:
    with pytest.raises(RuleErrors) as caught:
        load_rules(write_rules(tmp_path, rules, lexicon))
    return [str(e) for e in caught.value.errors]


def test_an_unknown_concept_is_located(tmp_path: Path) -> None:
    rule = "id: x\ntitle: x\nmatch:\n  all:\n    - concept: dprk\n    - concept: nowhere\n"
    [error] = load_errors(tmp_path, {"x.yaml": rule})
    assert error.startswith(f"{tmp_path / 'x.yaml'}:6:16: unknown concept \"nowhere\"")


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    errors = load_errors(
        tmp_path,
        {
            "a.yaml": "id: a\ntitle: a\nseverity: urgent\nmatch: {concept: dprk}\n",
            "b.yaml": "id: a\ntitle: b\nmatch: {near: {within: often, of: [{concept: dprk}, {concept: labor}]}}\n",
            "c.yaml": "id: c\ntitle: c\nmatch: {concept: dprk\n",
            "d.yaml": "id: d\ntitle: d\nmatch: {concept: dprk}\ncolour: red\n",
        },
    )
    text = "\n".join(errors)
    assert "a.yaml:3:11: severity \"urgent\" is not one of" in text
    assert "b.yaml:3:24: within: \"often\" is not sentence, paragraph or a number of words" in text
    assert "c.yaml:4:1: not valid YAML" in text
    assert "d.yaml:4:1: unknown key \"colour\" in a rule" in text


def test_duplicate_ids_and_concepts(tmp_path: Path) -> None:
    lexicon = LEXICON + "  dprk:\n    terms: [x]\n"
    errors = load_errors(tmp_path, {"a.yaml": RULE, "b.yaml": RULE}, lexicon)
    assert any('"dprk" is defined twice (first at line 2)' in e for e in errors)
    assert any('rule id "dprk-labor-russian-defense" is also used at' in e for e in errors)


def test_terms_that_cannot_match(tmp_path: Path) -> None:
    errors = load_errors(tmp_path, {"a.yaml": 'id: a\ntitle: a\nmatch: {terms: ["--", "/re(gex/", yes]}\n'})
    assert any('a.yaml:3:17: the term "--" has no letters or digits' in e for e in errors)
    assert any("a.yaml:3:23: the regular expression /re(gex/ does not compile" in e for e in errors)
    assert any("a.yaml:3:35: a term must be a non-empty string" in e for e in errors)


def test_the_shipped_pack_loads() -> None:
    ruleset = load_rules(Path(__file__).parents[1] / "rules")
    assert ruleset.enabled
    assert {"dprk_russia_military", "drone_production", "sanctions_action", "dprk_labor"} <= {
        t for r in ruleset.rules for t in r.tags
    }
