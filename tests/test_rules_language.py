"""The full rule language by example: every operator and option, what it matches and what it does not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest
from test_rules import LEXICON, write_rules

from monitor.errors import RuleErrors
from monitor.models import Article
from monitor.rules import Matcher, load_rules

EXTRA = """\
  russia:
    terms: ["russia*", "россия", "росси*"]
  iran:
    terms: ["iran"]
  supply:
    terms: ["supplied", "supplies", "delivered"]
  drones:
    terms: ["drone*", "shahed*", "无人机"]
  sanction:
    terms: ["sanction*"]
  target:
    terms: ["individuals", "entities"]
  si:
    terms:
      - {term: "si", lang: [fr, es]}
  workers:
    terms:
      - {term: "worker*", not_in: ["workers party", "workers  party of korea"]}
  production:
    not_in: ["iranian made"]
    terms: ["made", "production"]
"""


def matcher(tmp_path: Path, match: str, extra_keys: str = "") -> Matcher:
    rule = f"id: r\ntitle: r\n{extra_keys}match:\n" + dedent(match).strip("\n").replace("\n", "\n  ").join(["  ", "\n"])
    return Matcher(load_rules(write_rules(tmp_path, {"r.yaml": rule}, LEXICON + EXTRA)))


def hits(m: Matcher, text: str, title: str = "", language: str | None = None, source: str = "test",
         tags: tuple[str, ...] = ()) -> bool:
    article = Article(source=source, guid="1", url="https://example.org/1", title=title, content=text,
                      language=language)
    return bool(m.match(article, source_tags=tags))


def test_not_at_any_depth(tmp_path: Path) -> None:
    m = matcher(tmp_path, """
        all:
          - concept: dprk
          - any:
              - all: [{concept: labor}, {not: {concept: korean_war_history}}]
              - concept: russian_defense_site
        """)
    assert hits(m, "DPRK workers went abroad.")
    assert not hits(m, "DPRK workers in the Korean War.")
    assert hits(m, "DPRK workers in the Korean War at Kupol.")  # the other branch holds


def test_near_takes_any_number_of_operands(tmp_path: Path) -> None:
    m = matcher(tmp_path, "near: {within: sentence, of: [{concept: dprk}, {concept: labor}, {concept: russia}]}")
    assert hits(m, "DPRK workers arrived in Russia.")
    assert not hits(m, "DPRK workers arrived. Russia welcomed them.")


def test_near_within_paragraph(tmp_path: Path) -> None:
    m = matcher(tmp_path, "near: {within: paragraph, of: [{concept: dprk}, {concept: russia}]}")
    assert hits(m, "DPRK sent them.\nThey reached Russia.")
    assert not hits(m, "DPRK sent them.\n\nThey reached Russia.")


def test_near_within_characters_for_chinese(tmp_path: Path) -> None:
    m = matcher(tmp_path, 'near: {within: "4 chars", of: [{concept: dprk}, {concept: labor}]}')
    assert hits(m, "朝鲜派遣劳工前往俄罗斯")  # 派遣: two characters between
    assert not hits(m, "朝鲜政府近日宣布将派遣大批劳工")  # far apart in one sentence


def test_ordered_near_tells_direction(tmp_path: Path) -> None:
    m = matcher(tmp_path, """
        near: {within: sentence, ordered: true, of: [{concept: iran}, {concept: supply}, {concept: russia}]}
        """)
    assert hits(m, "Iran supplied Russia with drones.")
    assert not hits(m, "Russia supplied Iran with fighter jets.")
    assert not hits(m, "Iran supplied Ethiopia with drones.")


def test_unless_scopes_an_exclusion_to_the_window(tmp_path: Path) -> None:
    m = matcher(tmp_path, """
        near: {within: sentence, of: [{concept: sanction}, {concept: target}], unless: [{term: "calls for"}]}
        """)
    assert hits(m, "Sanctions hit 10 individuals. Kyiv calls for more sanctions.")
    assert not hits(m, "Kyiv calls for sanctions on 10 individuals.")


def test_asserted_excludes_hedged_sentences(tmp_path: Path) -> None:
    m = matcher(tmp_path, "near: {within: sentence, asserted: true, of: [{concept: dprk}, {concept: labor}]}")
    assert hits(m, "DPRK sent workers to Russia in May 2024.")  # the month is not a hedge
    for hedged in ["DPRK may send workers.", "DPRK reportedly sent workers.", "КНДР якобы отправила рабочих.",
                   "If the DPRK sends workers, Seoul will respond.", "据称朝鲜派遣劳工。"]:
        assert not hits(m, hedged), hedged


def test_builtin_hedge_is_a_concept_too(tmp_path: Path) -> None:
    m = matcher(tmp_path, "all: [{concept: dprk}, {concept: hedge}]")
    assert hits(m, "Pyongyang could send troops.")
    assert not hits(m, "Pyongyang sent troops.")


def test_span_exceptions(tmp_path: Path) -> None:
    m = matcher(tmp_path, "all: [{concept: dprk}, {concept: workers}]")
    assert hits(m, "The DPRK sent workers.")
    assert not hits(m, "The DPRK Workers' Party met.")
    assert hits(m, "The DPRK Workers' Party sent workers.")  # the second "workers" stands alone
    p = matcher(tmp_path, "concept: production")
    assert hits(p, "Drone production rose.")
    assert not hits(p, "An Iranian-made drone fell.")


def test_term_languages(tmp_path: Path) -> None:
    m = matcher(tmp_path, "all: [{concept: dprk}, {concept: si}]")
    assert hits(m, "Si la DPRK envoie des troupes", language="fr")
    assert hits(m, "Si la DPRK envía tropas", language="es-ES")
    assert not hits(m, "Si, la DPRK manda truppe", language="it")
    assert not hits(m, "Si la DPRK envoie des troupes")  # language unknown: the term does not count


def test_rule_languages_filter_uses_the_script_when_the_article_does_not_say(tmp_path: Path) -> None:
    m = matcher(tmp_path, "concept: dprk", "languages: [ko]\n")
    assert hits(m, "북한이 노동자를 보냈다")
    assert not hits(m, "DPRK sent workers")
    assert hits(m, "DPRK sent workers", language="ko")


def test_sources_filter_by_name_or_tag(tmp_path: Path) -> None:
    m = matcher(tmp_path, "concept: dprk", "sources: [yonhap, official]\n")
    assert hits(m, "DPRK", source="yonhap")
    assert hits(m, "DPRK", source="mofa", tags=("official",))
    assert not hits(m, "DPRK", source="blog", tags=("opinion",))


def test_count(tmp_path: Path) -> None:
    m = matcher(tmp_path, "count: {concept: dprk, at_least: 3}")
    assert hits(m, "DPRK. Pyongyang. North Korea.")
    assert not hits(m, "DPRK. Pyongyang.")


def test_field_scoping(tmp_path: Path) -> None:
    m = matcher(tmp_path, "all: [{field: title, concept: dprk}, {concept: labor}]")
    assert hits(m, "workers arrived", title="DPRK news")
    assert not hits(m, "DPRK workers arrived", title="News")


def test_year_condition_excludes_history_by_date(tmp_path: Path) -> None:
    m = matcher(tmp_path, """
        near: {within: sentence, of: [{concept: dprk}, {concept: labor}], unless: [{year: {from: 1950, to: 1953}}]}
        """)
    assert hits(m, "In 2024 the DPRK sent workers.")
    assert not hits(m, "In 1951 the DPRK sent workers.")
    assert hits(m, "The DPRK sent 1951 workers.") is False  # a number in the range reads as a year


def test_regex_terms_run_only_when_the_rule_is_undecided(tmp_path: Path) -> None:
    m = matcher(tmp_path, 'all: [{concept: dprk}, {term: "/kn ?2[34]/"}]')
    assert hits(m, "DPRK fired a KN-23.")
    assert not hits(m, "DPRK fired a KN-25.")
    scope, state = m.prepare(Article(source="t", guid="1", url="", title="", content="Russia fired a KN-23."))
    assert m.compiled.candidates(scope.by_key) == []  # no dprk: the rule is not evaluated, no regex runs
    assert state._lazy == {}


def test_rules_are_evaluated_only_when_their_required_concepts_occur(tmp_path: Path) -> None:
    rules = {f"r{i}.yaml": f"id: r{i}\ntitle: r\nmatch: {{all: [{{concept: {c}}}, {{concept: labor}}]}}\n"
             for i, c in enumerate(["dprk", "russia", "iran"])}
    m = Matcher(load_rules(write_rules(tmp_path, rules, LEXICON + EXTRA)))
    article = Article(source="t", guid="1", url="", title="", content="Iran and its workers")
    scope, state = m.prepare(article)
    assert [r.id for r in m.compiled.candidates(scope.by_key)] == ["r2"]
    found = [m.compiled.find(doc) for doc in state.docs.values()]  # the automaton's matches pick the same
    assert [r.id for r in m.compiled.candidates_in(found)] == ["r2"]


def test_an_any_requires_a_key_of_each_of_its_alternatives_groups(tmp_path: Path) -> None:
    rule = "id: r\ntitle: r\nmatch: {any: [{all: [{concept: dprk}, {concept: labor}]}, " \
           "{all: [{concept: iran}, {concept: drones}]}]}\n"
    m = Matcher(load_rules(write_rules(tmp_path, {"r.yaml": rule}, LEXICON + EXTRA)))
    for text, candidate in [("DPRK and Iran", False), ("DPRK drones", False), ("DPRK workers", True),
                            ("Iran's drones", True), ("DPRK workers and Iran", True)]:
        scope, _ = m.prepare(Article(source="t", guid="1", url="", title="", content=text))
        assert bool(m.compiled.candidates(scope.by_key)) is candidate, text


def test_event_keys(tmp_path: Path) -> None:
    rule = "id: r\ntitle: r\nwindow: 48h\nmin_sources: 2\nrealert: 24h\nmatch: {concept: dprk}\n"
    [loaded] = load_rules(write_rules(tmp_path, {"r.yaml": rule})).rules
    assert (loaded.window, loaded.min_sources, loaded.realert) == (timedelta(hours=48), 2, timedelta(hours=24))
    plain = "id: p\ntitle: p\nmatch: {concept: dprk}\n"
    (tmp_path / "p").mkdir()
    [loaded] = load_rules(write_rules(tmp_path / "p", {"p.yaml": plain})).rules
    assert (loaded.window, loaded.min_sources, loaded.realert) == (None, 1, "never")


def test_metadata(tmp_path: Path) -> None:
    rule = """\
    id: r
    title: r
    status: experimental
    author: A. Analyst
    falsepositives: [Korean War anniversaries]
    references: ["https://example.org/report"]
    match: {concept: dprk}
    """
    [loaded] = load_rules(write_rules(tmp_path, {"r.yaml": rule})).rules
    assert loaded.status == "experimental" and loaded.author == "A. Analyst"
    assert loaded.falsepositives == ("Korean War anniversaries",) and loaded.references == ("https://example.org/report",)


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ("window: soon\n", 'r.yaml:3:9: window: "soon" is not a duration like 72h'),
        ("min_sources: 0\n", "r.yaml:3:14: min_sources must be a whole number of at least 1"),
        ("realert: often\n", 'r.yaml:3:10: realert: "often" is not never, exponential or a duration'),
        ("status: beta\n", 'r.yaml:3:9: status "beta" is not one of stable, test, experimental'),
        ("languages: [english]\n", 'r.yaml:3:13: "english" is not a language code'),
        ("examples: {match: [{txt: x}]}\n", 'r.yaml:3:21: unknown key "txt" in an example'),
    ],
)
def test_metadata_errors_are_located(tmp_path: Path, lines: str, error: str) -> None:
    rule = "id: r\ntitle: r\n" + lines + "match: {concept: dprk}\n"
    with pytest.raises(RuleErrors) as caught:
        load_rules(write_rules(tmp_path, {"r.yaml": rule}))
    assert any(error in str(e) for e in caught.value.errors), caught.value


@pytest.mark.parametrize(
    ("match", "error"),
    [
        ("{count: {concept: dprk}}", "count needs at_least"),
        ("{field: body, concept: dprk}", 'unknown field "body"'),
        ("{field: title}", "field: scopes the other operators"),
        ("{year: {from: 1960, to: 1950}}", "the year range is empty"),
        ("{near: {of: [{concept: dprk}, {concept: labor}], ordered: maybe}}", "ordered must be true or false"),
        ("{near: {within: 3 lines, of: [{concept: dprk}, {concept: labor}]}}", 'within: "3 lines"'),
        ('{terms: [{term: "si", lang: [french]}]}', '"french" is not a language code'),
    ],
)
def test_condition_errors_are_located(tmp_path: Path, match: str, error: str) -> None:
    with pytest.raises(RuleErrors) as caught:
        load_rules(write_rules(tmp_path, {"r.yaml": f"id: r\ntitle: r\nmatch: {match}\n"}))
    assert any(error in str(e) and "r.yaml:3:" in str(e) for e in caught.value.errors), caught.value


def test_hedge_is_reserved(tmp_path: Path) -> None:
    with pytest.raises(RuleErrors) as caught:
        load_rules(write_rules(tmp_path, {}, LEXICON + "  hedge:\n    terms: [maybe]\n"))
    assert 'concept "hedge" is defined twice (it is built in; give yours another name)' in str(caught.value)


def test_the_built_in_quantity_class_counts_in_digits_and_words(tmp_path: Path) -> None:
    m = matcher(tmp_path, """
        near: {within: 4, ordered: true, of: [{concept: sanction}, {concept: quantity}, {concept: target}]}
        """)
    assert hits(m, "The Treasury sanctioned 10 individuals and two entities on Tuesday.")
    assert hits(m, "The EU sanctioned twelve entities linked to the drone programme.")
    assert hits(m, "Washington sanctioned 1,500 entities in 2024.")
    assert not hits(m, "The Treasury sanctioned individuals and entities on Tuesday.")  # no count


def test_a_korean_phrase_matches_with_or_without_its_space(tmp_path: Path) -> None:
    lexicon = 'concepts:\n  dprk_labor:\n    terms: ["북한 노동자"]\n'
    rule = "id: r\ntitle: r\nmatch: {concept: dprk_labor}\n"
    m = Matcher(load_rules(write_rules(tmp_path, {"r.yaml": rule}, lexicon)))
    assert hits(m, "러시아에 파견된 북한 노동자 수천 명") and hits(m, "러시아에 파견된 북한노동자 수천 명")
