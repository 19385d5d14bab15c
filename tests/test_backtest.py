"""`monitor backtest`: JSONL articles in, one JSON line per match out, per-tag scores with --labels."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from monitor.backtest import TagScore, score

ROOT = Path(__file__).parents[1]
RULES = ROOT / "tests" / "data" / "rules"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", "backtest", "--rules", str(RULES), *args],
                          capture_output=True, text=True, timeout=60)


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return path


ROWS = [
    {"id": "seed", "url": "https://x.org/1", "title": "КНДР направит рабочих",
     "text": "КНДР может направить 25 тысяч рабочих в Алабугу.", "labels": ["dprk_labor"], "colour": "ignored"},
    {"id": "missile", "url": "https://x.org/2", "title": "Missile test",
     "text": "Kim Jong Un oversaw a cruise missile test.", "labels": []},
    {"id": "missed", "url": "https://x.org/3", "title": "Workers",
     "text": "Pyongyang sends builders to Vladivostok.", "labels": ["dprk_labor"]},
]


def test_prints_one_json_line_per_match(tmp_path: Path) -> None:
    done = run(str(write_jsonl(tmp_path / "a.jsonl", ROWS)))
    assert done.returncode == 0, done.stderr
    [record] = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["article_id"] == "seed"
    assert record["rule_id"] == "dprk-labor"
    assert record["tags"] == ["dprk_labor"] and record["severity"] == "high"
    assert record["entities"] == ["alabuga"]


def test_labels_give_precision_recall_and_f1(tmp_path: Path) -> None:
    done = run("--labels", str(write_jsonl(tmp_path / "a.jsonl", ROWS)))
    [row] = [line.split() for line in done.stderr.splitlines() if line.startswith("dprk_labor")]
    assert row[1:5] == ["1.000", "0.500", "0.667", "2"]
    assert all(line.startswith("{") for line in done.stdout.splitlines())  # stdout stays JSONL


def test_a_bad_line_is_named_and_the_rest_still_runs(tmp_path: Path) -> None:
    done = run(str(write_jsonl(tmp_path / "a.jsonl", ["{not json", {"id": "x"}, ROWS[0]])))
    assert done.returncode == 1
    assert "a.jsonl:1: skipped: JSONDecodeError" in done.stderr
    assert "a.jsonl:2: skipped: KeyError" in done.stderr and "each line needs id, url, title, text" in done.stderr
    assert '"article_id": "seed"' in done.stdout


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    done = run(str(tmp_path / "nowhere.jsonl"))
    assert done.returncode == 2 and "cannot read" in done.stderr


def test_score_counts_per_tag() -> None:
    pairs = [(frozenset({"a"}), frozenset({"a"})), (frozenset({"a"}), frozenset()), (frozenset(), frozenset({"b"}))]
    assert score(pairs, ["a", "b"]) == [TagScore("a", 1, 1, 0), TagScore("b", 0, 0, 1)]
    assert TagScore("a", 1, 1, 0).precision == 0.5 and TagScore("b", 0, 0, 1).f1 == 0.0
