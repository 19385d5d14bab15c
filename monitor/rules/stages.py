"""The stage lexicons (`rules/lexicons/stages.yaml`) found in an article, where each stage word is and
where the article's key terms are, read by `grading.read_stage`. Pure.

The lexicons are ordinary concepts (`stage_intent`, `stage_agreed`, `stage_observed`,
`stage_designated`, `stage_denied`; `stage_negation`, `stage_negation_after` and `stage_pending`), compiled
into one automaton of their own with the rule engine's compiler, so they share its folding, wildcards
and CJK substring matching.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

from monitor.grading import Cue, StageReading, read_stage
from monitor.models import Article, Match
from monitor.rules.compiler import CompiledRules
from monitor.rules.evaluate import article_language, documents, span_of
from monitor.rules.model import AnyOf, ConceptRef, Rule, RuleSet
from monitor.text import Document

STAGE_CONCEPTS = {"stage_intent": "intent", "stage_agreed": "agreed", "stage_observed": "observed",
                  "stage_designated": "designated", "stage_denied": "denied", "stage_negation": "negation",
                  "stage_negation_after": "negation_after", "stage_pending": "pending"}


class StageScanner:
    """The stage concepts of a rule set, compiled once. A rule set without them finds nothing."""

    def __init__(self, ruleset: RuleSet) -> None:
        names = [n for n in STAGE_CONCEPTS if n in ruleset.concepts]
        self.enabled = bool(names)
        rule = Rule("stages", "stage lexicons", "info", (), AnyOf(tuple(ConceptRef(n) for n in names)))
        self.compiled = CompiledRules(ruleset, [rule]) if names else None

    def read(self, article: Article, found: Sequence[Match]) -> StageReading:
        """The stage the article asserts near the spans of its matches (`read_stage`)."""
        if self.compiled is None:
            return read_stage([], [])
        docs = documents(article)
        language = article_language(article)
        cues: list[Cue] = []
        for field, doc in docs.items():
            for key, hits in self.compiled.scan(field, doc, language).items():
                stage = STAGE_CONCEPTS[key.removeprefix("concept:")]
                for hit in hits:
                    span = span_of(hit, doc)
                    sentence = _sentence(doc, span.start)
                    cues.append(Cue(stage, field, sentence, span.start, span.end, _clause(doc, sentence, span.start)))
        anchors = [(s.field, _sentence(docs[s.field], s.start)) for m in found for s in m.spans if s.field in docs]
        return read_stage(cues, anchors)


def _sentence(doc: Document, original_offset: int) -> int:
    return max(0, bisect_right(doc.original_sentence_starts, original_offset) - 1)


_CLAUSE_MARKS = re.compile("[，；]")


def _clause(doc: Document, sentence: int, original_offset: int) -> int:
    start = doc.original_sentence_starts[sentence] if doc.original_sentence_starts else 0
    return len(_CLAUSE_MARKS.findall(doc.original, start, original_offset))
