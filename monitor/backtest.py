"""Replay articles from JSONL through the rules, and score the tags against labels where lines carry them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from monitor.grading import DENIED, STAGES
from monitor.models import Article, Match
from monitor.rules.model import Rule


@dataclass(frozen=True)
class Line:
    """One JSONL line: the article, its labels (None when the line has no `labels` key), or a problem."""

    number: int
    article: Article | None = None
    labels: frozenset[str] | None = None
    problem: str | None = None
    stage: str | None = None  # the line's `stage` label (intent, agreed, observed, designated, denied, none)


def read_articles(stream: TextIO, source_name: str = "backtest") -> Iterator[Line]:
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            stage = record.get("stage")
            yield Line(number, _article(record, source_name), _labels(record), stage=str(stage) if stage else None)
        except (ValueError, KeyError, TypeError) as exc:
            yield Line(number, problem=f"{exc.__class__.__name__}: {exc}")


def _article(record: dict[str, Any], source_name: str) -> Article:
    missing = [k for k in ("id", "url", "title", "text") if k not in record]
    if missing:
        raise KeyError(f"missing {', '.join(missing)} (each line needs id, url, title, text)")
    return Article(
        source=str(record.get("source") or source_name),
        guid=str(record["id"]),
        url=str(record["url"]),
        title=str(record["title"] or ""),
        content=str(record["text"] or ""),
        published=_date(record.get("published")),
        language=record.get("language"),
    )


def _date(value: object) -> datetime | None:
    return parse_date(str(value)) if value else None


def parse_date(text: str) -> datetime:
    """`2025-07-02`, `2025-07`, a full ISO timestamp (UTC unless it says otherwise); ValueError else."""
    if len(text) == 7:
        text += "-01"
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def published_between(article: Article, since: datetime | None, until: datetime | None) -> bool:
    """Whether an article was published (else fetched) in [since, until); undated ones pass without bounds."""
    when = article.published or article.fetched_at
    if when is None:
        return since is None and until is None
    return (since is None or when >= since) and (until is None or when < until)


def rule_table(rules: Iterable[Rule], hits: dict[str, int], articles: int) -> str:
    """Per rule: how many articles it matched, and what share of all articles that is."""
    lines = [f"{'rule':<40} {'enabled':>7} {'hits':>6} {'share':>7}  tags"]
    for rule in rules:
        n = hits.get(rule.id, 0)
        share = n / articles if articles else 0.0
        lines.append(f"{rule.id:<40} {'yes' if rule.enabled else 'no':>7} {n:>6} {share:>7.1%}  {', '.join(rule.tags)}")
    lines.append(f"({articles} articles)")
    return "\n".join(lines)


def _labels(record: dict[str, Any]) -> frozenset[str] | None:
    labels = record.get("labels")
    return None if labels is None else frozenset(str(x) for x in labels)


def match_record(article: Article, match: Match) -> dict[str, Any]:
    return {
        "article_id": article.guid,
        "rule_id": match.rule_id,
        "tags": list(match.tags),
        "severity": match.severity,
        "entities": list(match.entities),
        "snippet": match.snippet.marked() if match.snippet else None,
    }


@dataclass(frozen=True)
class TagScore:
    tag: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def support(self) -> int:
        return self.tp + self.fn


def score(pairs: Iterable[tuple[frozenset[str], frozenset[str]]], tags: Iterable[str]) -> list[TagScore]:
    """Per tag, from (predicted, labelled) pairs: a tag is predicted when any rule carrying it matched."""
    pairs = list(pairs)
    return [
        TagScore(
            tag,
            tp=sum(1 for p, gold in pairs if tag in p and tag in gold),
            fp=sum(1 for p, gold in pairs if tag in p and tag not in gold),
            fn=sum(1 for p, gold in pairs if tag not in p and tag in gold),
        )
        for tag in sorted(set(tags))
    ]


def score_table(scores: list[TagScore], articles: int) -> str:
    lines = [f"{'tag':<24} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8} {'tp':>4} {'fp':>4} {'fn':>4}"]
    for s in scores:
        lines.append(f"{s.tag:<24} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} {s.support:>8} "
                     f"{s.tp:>4} {s.fp:>4} {s.fn:>4}")
    lines.append(f"({articles} labelled articles)")
    return "\n".join(lines)


# --- the evidence ladder -------------------------------------------------------------------------

STAGE_LABELS = (*STAGES, DENIED, "none")  # as `StageReading.label` words them


def stage_table(pairs: Sequence[tuple[str, str]]) -> str:
    """Accuracy and the confusion matrix (rows: the label; columns: what the lexicons said)."""
    right = sum(1 for predicted, gold in pairs if predicted == gold)
    labels = [s for s in STAGE_LABELS if any(s in pair for pair in pairs)]
    width = max([len(s) for s in labels] + [10])
    lines = [f"stage accuracy {right}/{len(pairs)} = {right / len(pairs) if pairs else 0.0:.3f}", "",
             f"{'label/said':<{width}} " + " ".join(f"{s:>{width}}" for s in labels)]
    for gold in labels:
        row = [sum(1 for p, g in pairs if g == gold and p == said) for said in labels]
        lines.append(f"{gold:<{width}} " + " ".join(f"{n:>{width}}" for n in row))
    return "\n".join(lines)
