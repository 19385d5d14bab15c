"""The rule author's tools: `rules check` (errors, lint, examples), `rules explain`, and `backtest`'s
rule, date, store and table options — run as the real command."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from test_rules import LEXICON, RULE, write_rules

from monitor.models import Article
from monitor.rules import Matcher, load_rules
from monitor.rules.check import lint, run_examples
from monitor.rules.explain import explain, render
from monitor.store import open_store, stored_articles

ROOT = Path(__file__).parents[1]


def monitor(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd or ROOT)


EXAMPLES = """\
examples:
  match: ["Pyongyang will send workers to the Alabuga plant."]
  no_match: ["Kim Jong Un oversaw a cruise missile test.", "DPRK workers are building a road near Alabuga."]
"""


def test_the_shipped_pack_passes_its_own_check() -> None:
    done = monitor("rules", "check", str(ROOT / "rules"), "--severity", "error")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failing" in done.stdout
    ruleset = load_rules(ROOT / "rules")
    assert all(r.examples and {e.expect for e in r.examples} == {True, False} for r in ruleset.rules)


def test_a_failing_example_is_an_error_with_its_place(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, {"r.yaml": RULE + EXAMPLES})
    done = monitor("rules", "check", str(rules))
    assert done.returncode == 1
    assert f"{rules / 'r.yaml'}:13:60: error:" in done.stdout  # the second no_match example, which matches
    assert 'example should not match but does: "DPRK workers are building a road near Alabuga."' in done.stdout
    assert "2 failing" not in done.stdout and "1 failing" in done.stdout


def test_load_errors_exit_2_with_every_place(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, {"a.yaml": "id: a\ntitle: a\nmatch: {concept: nowhere}\n",
                                   "b.yaml": "id: b\ntitle: b\nseverity: urgent\nmatch: {concept: dprk}\n"})
    done = monitor("rules", "check", str(rules))
    assert done.returncode == 2
    assert "a.yaml:3:18: unknown concept" in done.stderr and "b.yaml:3:11: severity" in done.stderr


def test_lint_issues_have_severities(tmp_path: Path) -> None:
    lexicon = LEXICON + "  unused:\n    terms: [nothing]\n  short:\n    terms: [\"bor*\"]\n"
    rules = {
        "a.yaml": "id: a\ntitle: a\nmatch: {all: [{concept: dprk}, {not: {concept: dprk}}]}\n",
        "b.yaml": 'id: b\ntitle: b\nenabled: false\nmatch: {any: [{term: "/kn.?23/"}, {concept: short}]}\n',
        "c.yaml": "id: c\ntitle: c\nmatch: {not: {concept: labor}}\n",
    }
    issues = [str(i) for i in lint(load_rules(write_rules(tmp_path, rules, lexicon)))]
    text = "\n".join(issues)
    assert "warning: rule a can never match: concept:dprk is both required and excluded" in text
    assert 'warning: concept "unused" is used by no rule' in text
    assert 'warning: concept "short": "bor*" is a prefix of 3 letters' in text
    assert "info: rule b: /kn.?23/ is a regular expression" in text
    assert "info: rule b is disabled" in text
    assert "warning: rule c has no term or concept outside a `not`" in text
    assert "b.yaml:4:22: info" in text  # a term's issue points at the term
    first_warning = issues.index(next(i for i in issues if "warning" in i))
    assert first_warning < issues.index(next(i for i in issues if "info" in i))


def test_examples_of_disabled_rules_run_too(tmp_path: Path) -> None:
    rule = RULE + "enabled: false\n" + EXAMPLES
    failures = run_examples(load_rules(write_rules(tmp_path, {"r.yaml": rule})))
    assert len(failures) == 1 and failures[0].severity == "error"


def test_explain_shows_each_node_and_its_spans(tmp_path: Path) -> None:
    ruleset = load_rules(write_rules(tmp_path, {"r.yaml": RULE}))
    article = Article(source="t", guid="1", url="", title="", content="DPRK workers went home. Alabuga grew.")
    explanation = explain(Matcher(ruleset), "dprk-labor-russian-defense", article)
    assert not explanation.matched
    text = render(explanation)
    assert "dprk-labor-russian-defense: no match" in text
    assert "✓ concept dprk" in text and "content 0-4 «DPRK»" in text
    assert "✗ near within sentence  (never all together in one sentence)" in text
    assert "✓ concept russian_defense_site" in text  # it occurs, just not in the sentence of the workers


def test_rules_explain_command(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, {"r.yaml": RULE + "enabled: false\nlanguages: [ru]\n"})
    text = "КНДР направит рабочих в Алабугу."
    done = monitor("rules", "explain", "dprk-labor-russian-defense", "--rules", str(rules), "--text", text)
    assert done.returncode == 1 and "not evaluated: the article's language (unknown) is not one of ru" in done.stdout
    done = monitor("rules", "explain", "dprk-labor-russian-defense", "--rules", str(rules), "--text", text,
                   "--language", "ru")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MATCH" in done.stdout and "«Алабугу»" in done.stdout
    (tmp_path / "a.txt").write_text("Nothing to see.")
    done = monitor("rules", "explain", "dprk-labor-russian-defense", "--rules", str(rules), "--file",
                   str(tmp_path / "a.txt"), "--language", "ru")
    assert done.returncode == 1 and "✗ concept dprk" in done.stdout


ROWS = [
    {"id": "old", "url": "https://x.org/1", "title": "", "published": "2023-05-01",
     "text": "КНДР направит рабочих в Алабугу."},
    {"id": "new", "url": "https://x.org/2", "title": "", "published": "2025-05-01",
     "text": "Pyongyang sends workers to Alabuga."},
    {"id": "none", "url": "https://x.org/3", "title": "", "published": "2025-06-01", "text": "Nothing."},
]


def test_backtest_one_disabled_rule_in_a_date_range_as_a_table(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, {"r.yaml": RULE + "enabled: false\n",
                                   "s.yaml": "id: s\ntitle: s\nmatch: {concept: dprk}\n"})
    data = tmp_path / "a.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS) + "\n")
    done = monitor("backtest", str(data), "--rules", str(rules), "--rule", "dprk-labor-russian-defense",
                   "--since", "2024-01-01", "--format", "table")
    assert done.returncode == 0, done.stderr
    [row] = [line.split() for line in done.stdout.splitlines() if line.startswith("dprk-labor")]
    assert row == ["dprk-labor-russian-defense", "no", "1", "50.0%", "dprk_labor,", "dprk_russia_military"]
    assert "(2 articles)" in done.stdout and not any(line.startswith("s ") for line in done.stdout.splitlines())
    done = monitor("backtest", str(data), "--rules", str(rules), "--rule", "nowhere")
    assert done.returncode == 2 and '--rule: no rule "nowhere"' in done.stderr


def test_backtest_from_the_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/m.db")
    try:
        for row in ROWS:
            store_article(store, row)
        found = list(stored_articles(store, since=datetime(2024, 1, 1, tzinfo=UTC)))
        assert [a.guid for a in found] == ["new", "none"]
    finally:
        store.close()
    config = tmp_path / "c.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/m.db"\n')
    (tmp_path / "rules").mkdir()
    rules = write_rules(tmp_path / "rules", {"r.yaml": RULE})
    done = monitor("backtest", "--from-store", "--config", str(config), "--rules", str(rules), "--until", "2024-01-01")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["article_id"] for line in done.stdout.splitlines()] == ["old"]


def store_article(store: object, row: dict[str, str]) -> None:
    """An article as the intake stores it (only the columns `stored_articles` reads)."""
    import sqlalchemy as sa

    from monitor.store import articles

    published = datetime.fromisoformat(row["published"]).replace(tzinfo=UTC)
    with store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.insert(articles).values(
            source="s", guid=row["id"], url=row["url"], canonical_url=row["url"], title=row["title"], summary="",
            content=row["text"], published=published, fetched_at=published, language=None, content_hash=row["id"]))
