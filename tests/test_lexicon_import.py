"""`monitor lexicon import`: a real list's DPRK designations become a concept a rule can use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from monitor.models import Article
from monitor.rules import Matcher, load_rules
from monitor.sources.lexicon import term_forms, transliterate
from monitor.sources.lists import Designation

ROOT = Path(__file__).parents[1]
SANCTIONS = ROOT.parent / "shared" / "corpus" / "sanctions"
if not SANCTIONS.is_dir():
    pytest.skip(f"no corpus at {SANCTIONS}", allow_module_level=True)

RULE = """id: designated-dprk-named
title: A designated DPRK person or entity is named
severity: medium
tags: [sanctions_action]
match:
  concept: designated_dprk
"""


def test_term_forms_and_transliteration() -> None:
    assert transliterate("Алабуга Щукин") == "Alabuga Shchukin"
    assert term_forms("KYU-CHANG, Ju") == ["KYU-CHANG, Ju", "Ju KYU-CHANG"]
    assert "Sergey Glazyev" not in term_forms("ГЛАЗЬЕВ, Сергей")
    assert "Sergey GLAZEV" in term_forms("GLAZEV, Sergey") and "Сергей ГЛАЗЬЕВ" in term_forms("ГЛАЗЬЕВ, Сергей")
    assert "Sergey GLAZEV" in term_forms("ГЛАЗЬЕВ, Сергей")
    assert "Societe Generale" in term_forms("Société Générale")
    assert term_forms("AB") == [] and term_forms("*/regex/") == ["regex/"]
    assert Designation("1", "x").aliases == ()


def test_import_dprk_designations_and_match_them(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    (rules / "lexicons").mkdir(parents=True)
    (rules / "designated.yaml").write_text(RULE)
    output = rules / "lexicons" / "designated_dprk.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "lexicon", "import", str(SANCTIONS / "20q-master__ConList.csv"),
         "--concept", "designated_dprk", "--program", "north korea", "--output", str(output)],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "designated_dprk: 3 designations under north korea of 41 (hmt-csv)" in done.stderr
    entities = yaml.safe_load(output.read_text(encoding="utf-8"))["concepts"]["designated_dprk"]["entities"]
    assert set(entities) == {"il_kim_kyong", "tong_san_2", "2nd_academy_of_natural_sciences"}
    assert "Kim Kyong IL" in entities["il_kim_kyong"]
    matcher = Matcher(load_rules(rules))
    text = "Seoul said the Tong San 2 delivered coal to Nakhodka in March."
    found = matcher.match(Article(source="t", guid="1", url="", title="", content=text))
    assert [m.rule_id for m in found] == ["designated-dprk-named"]
    assert not matcher.match(Article(source="t", guid="2", url="", title="", content="A ship sailed to Nakhodka."))


def test_a_file_that_is_not_a_list_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "lexicon", "import", str(SANCTIONS / "watchman__ofactest_alt.csv"),
         "--concept", "x"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "not a list" in done.stderr
