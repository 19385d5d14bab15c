"""Analyst grading: the Admiralty code of an event and its stage on the evidence ladder. Pure.

The Admiralty code (NATO STANAG 2511, AJP-2.1) grades a report twice: a letter for its source's
reliability (A completely reliable … E unreliable, F cannot be judged) and a number for the
information's credibility (1 confirmed by other sources … 6 cannot be judged). The letter comes from the
config (`reliability` on each source); the number comes from corroboration among *independent voices*:
reports that share a registered domain or an `owner`, and copies of another report, are one voice.

The evidence ladder says how far the reported fact has gone: `intent` < `agreed` < `observed` <
`designated`, with a separate `denied` marker when a party denies it. `read_stage` takes the stage cues
found near an event's key terms (`rules.stages` finds them with the stage lexicons) and returns the
stage; the event keeps the highest stage any of its reports reached.

Data in, data out: every rule of the number is one function below, each with a test
(tests/test_grading.py), and docs/grading.md says the same in prose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

RELIABILITIES = "ABCDEF"  # best first
CREDIBILITIES = (1, 2, 3, 4, 5, 6)  # best first
STAGES: tuple[str, ...] = ("intent", "agreed", "observed", "designated")  # lowest first
DENIED = "denied"
OFFICIAL = "official"


def stage_rank(stage: str | None) -> int:
    """-1 for no stage; otherwise the position on the ladder."""
    return STAGES.index(stage) if stage in STAGES else -1


# --- grades ----------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Grade:
    """An Admiralty code: `B2`. Ordered best first (A1 < B2), so `min` is the better of two."""

    letter: str
    number: int

    def __str__(self) -> str:
        return f"{self.letter}{self.number}"

    @classmethod
    def parse(cls, text: str) -> Grade:
        """`"B2"` → Grade("B", 2); ValueError for anything else."""
        text = text.strip().upper()
        if len(text) != 2 or text[0] not in RELIABILITIES or not text[1].isdigit() or int(text[1]) not in CREDIBILITIES:
            raise ValueError(f'"{text}" is not an Admiralty code like B2 (A–F, then 1–6)')
        return cls(text[0], int(text[1]))

    def at_least(self, other: Grade) -> bool:
        """Letter at least `other`'s and number at most `other`'s: B1 is at least B2; A3 is not."""
        return self.letter <= other.letter and self.number <= other.number


@dataclass(frozen=True)
class Voice:
    """One independent voice of an event: its key (owner or registered domain), the best reliability
    among its reports, and whether it is an official source."""

    key: str
    reliability: str = "F"
    official: bool = False
    domains: tuple[str, ...] = ()  # the registered domains it spoke from: any of them is this voice again

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "reliability": self.reliability, "official": self.official,
                "domains": list(self.domains)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Voice:
        domains = data.get("domains")
        return cls(str(data["key"]), str(data.get("reliability", "F")), bool(data.get("official", False)),
                   tuple(str(d) for d in domains) if isinstance(domains, list) else ())


@dataclass(frozen=True)
class Sourcing:
    """Where one report comes from, as grading sees it."""

    domain: str
    reliability: str = "F"
    affiliation: tuple[str, ...] = ()
    owner: str | None = None
    listed: bool = False  # an entry of a sanctions list: `designated` by its source kind

    @property
    def voice_key(self) -> str:
        """Same owner (as the config groups them) or same registered domain: one voice."""
        return f"owner:{self.owner}" if self.owner else self.domain

    @property
    def official(self) -> bool:
        return OFFICIAL in self.affiliation


@dataclass(frozen=True)
class Grading:
    """What an event's grade rests on: its voices that assert the fact, and an open denial."""

    voices: tuple[Voice, ...] = ()
    denied_by_reliable: bool = False  # a B-or-better source denied it and nobody confirmed it since

    @property
    def grade(self) -> Grade:
        return grade_of(self.voices, self.denied_by_reliable)


def add_report(grading: Grading, sourcing: Sourcing, *, copy: bool, denial: bool) -> Grading:
    """The grading after one more report. A copy adds no voice (a syndicated rewrite never corroborates
    its original); a denial adds no voice either (it does not report the fact) but from a B-or-better
    source it opens a doubt (rule 4) that the next confirming report closes."""
    if denial:
        reliable = sourcing.reliability <= "B"
        return Grading(grading.voices, grading.denied_by_reliable or reliable)
    if copy:
        return grading
    known = next((v for v in grading.voices if v.key == sourcing.voice_key or sourcing.domain in v.domains), None)
    others = tuple(v for v in grading.voices if v is not known)
    voice = Voice(
        known.key if known else sourcing.voice_key,
        min(sourcing.reliability, known.reliability) if known else sourcing.reliability,
        sourcing.official or (known.official if known else False),
        tuple(dict.fromkeys((*(known.domains if known else ()), sourcing.domain))),
    )
    return Grading((*others, voice), grading.denied_by_reliable and not _confirms(sourcing))


def _confirms(sourcing: Sourcing) -> bool:
    """A report that re-confirms a denied fact: an official one, or one of reliability C or better."""
    return sourcing.official or sourcing.reliability <= "C"


def grade_of(voices: Sequence[Voice], denied_by_reliable: bool = False) -> Grade:
    """The letter is the best reliability among the independent voices; the number is the first of
    the credibility rules below that holds."""
    letter = min((v.reliability for v in voices), default="F")
    for rule in CREDIBILITY_RULES:
        number = rule(voices, denied_by_reliable)
        if number is not None:
            return Grade(letter, number)
    return Grade(letter, 6)


def doubted_by_denial(voices: Sequence[Voice], denied: bool) -> int | None:
    """4 (doubtful): a source of B or better denied it, and it has not been confirmed since."""
    return 4 if denied else None


def confirmed(voices: Sequence[Voice], denied: bool) -> int | None:
    """1 (confirmed): two independent voices of reliability C or better, or one official voice."""
    if any(v.official for v in voices) or sum(v.reliability <= "C" for v in voices) >= 2:
        return 1
    return None


def one_reliable(voices: Sequence[Voice], denied: bool) -> int | None:
    """2 (probably true): one A or B voice."""
    return 2 if any(v.reliability <= "B" for v in voices) else None


def one_fair(voices: Sequence[Voice], denied: bool) -> int | None:
    """3 (possibly true): one voice of reliability C, D or E."""
    return 3 if any(v.reliability <= "E" for v in voices) else None


def unjudged(voices: Sequence[Voice], denied: bool) -> int | None:
    """6 (cannot be judged): only F voices, or none."""
    return 6


# In order: the first that gives a number wins. 5 (improbable) is never given automatically: it needs
# an analyst's judgement against what else is known.
CREDIBILITY_RULES = (doubted_by_denial, confirmed, one_reliable, one_fair, unjudged)


def crossed(before: Grade | None, after: Grade, threshold: Grade) -> bool:
    """The grade moved across the threshold, either way (C3 → B2 across B2; B2 → B4 after a denial)."""
    was = before is not None and before.at_least(threshold)
    return was != after.at_least(threshold)


# --- the evidence ladder ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cue:
    """A stage word found in an article: its stage (or `denied`), and where it is (field, sentence,
    character offset), so that `read_stage` can tell what it is near and what comes before it."""

    stage: str
    field: str
    sentence: int
    start: int
    end: int = -1  # -1: the cue's end is not known (it is then `start`)
    clause: int = 0  # in the sentence, by full-width commas (Chinese, Japanese): a hedge stays in its clause


@dataclass(frozen=True)
class StageReading:
    stage: str | None = None  # the highest asserted stage, None when none
    denied: bool = False  # a sentence near the key terms is a denial

    @property
    def label(self) -> str:
        """One label, as `stage_dev.jsonl` has them: the stage, else `denied`, else `none`."""
        return self.stage or (DENIED if self.denied else "none")


NEAR_SENTENCES = 1  # a cue counts in the key terms' sentence and this many sentences either side


def near(cues: Iterable[Cue], anchors: Iterable[tuple[str, int]]) -> list[Cue]:
    """The cues in an anchor's sentence (field, sentence) or the sentences next to it; a headline's
    key terms also reach the lead (the first sentence of the summary and the content). With no anchors
    (a text no rule matched, in an evaluation) every cue is near."""
    spots = set(anchors)
    if any(field == "title" for field, _ in spots):
        spots |= {("summary", 0), ("content", 0)}
    if not spots:
        return list(cues)
    return [c for c in cues if any((c.field, c.sentence + n) in spots
                                   for n in range(-NEAR_SENTENCES, NEAR_SENTENCES + 1))]


def read_stage(cues: Iterable[Cue], anchors: Iterable[tuple[str, int]] = ()) -> StageReading:
    """The stage of one article from the cues near its key terms.

    Per sentence: a denial makes the sentence a denial and nothing else; a stage word after a hedge
    (an `intent` word earlier in the sentence: "may be sent", "plans to sanction") counts as intent;
    the sentence's stage is the highest of what is left. The article's stage is the highest sentence.
    """
    by_sentence: dict[tuple[str, int], list[Cue]] = {}
    for cue in near(cues, anchors):
        by_sentence.setdefault((cue.field, cue.sentence), []).append(cue)
    stage, denied = None, False
    for sentence in by_sentence.values():
        in_order = sorted(sentence, key=lambda c: c.start)
        if denies(in_order):
            denied = True
            continue
        found = sentence_stage(in_order)
        if stage_rank(found) > stage_rank(stage):
            stage = found
    return StageReading(stage, denied)


HEDGE_AFTER = 12  # characters: Japanese and Korean put the modal after the verb ("派遣する可能性", "제재를 검토")
NEGATION_BEFORE = 15  # characters from a negation's end to the stage word: "has not officially signed"
NEGATION_AFTER = 6  # Japanese and Korean negate right after the verb: "派遣していない", "파견하지 않았다"
NEGATION, NEGATION_AFTER_VERB, PENDING = "negation", "negation_after", "pending"


def turned(cue: Cue, cues: Sequence[Cue], before: str, after: str = "") -> bool:
    """A word of kind `before` ends shortly before the cue, or one of kind `after` starts right after it."""
    end = cue.end if cue.end >= 0 else cue.start
    return any(
        (n.stage == before and 0 <= cue.start - (n.end if n.end >= 0 else n.start) <= NEGATION_BEFORE)
        or (n.stage == after and 0 <= n.start - end <= NEGATION_AFTER)
        for n in cues)


def denies(sentence: Sequence[Cue]) -> bool:
    """A denial word, or a fact negated ("Iran said it had not provided drones"): the sentence denies."""
    return any(c.stage == DENIED or (stage_rank(c.stage) > 0 and turned(c, sentence, NEGATION, NEGATION_AFTER_VERB))
               for c in sentence)


def sentence_stage(cues: Sequence[Cue]) -> str | None:
    """The highest stage of one sentence's cues (in text order). A cue is hedged, and counts as intent,
    when an intent word comes before it in its clause or right after it (within `HEDGE_AFTER`); a fact
    that has not happened yet ("not yet signed") counts for nothing."""
    intents = [c for c in cues if c.stage == "intent"]
    best: str | None = None
    for cue in cues:
        if stage_rank(cue.stage) > 0 and turned(cue, cues, PENDING):
            continue
        end = cue.end if cue.end >= 0 else cue.start
        hedged = any((i.start < cue.start and i.clause == cue.clause) or 0 <= i.start - end <= HEDGE_AFTER
                     for i in intents if i is not cue)
        own = "intent" if hedged else cue.stage
        if stage_rank(own) > stage_rank(best):
            best = own
    return best


def higher(before: str | None, after: str | None) -> str | None:
    """The event keeps the highest stage any of its reports reached."""
    return after if stage_rank(after) > stage_rank(before) else before
