"""Analyst grading: each rule of the Admiralty number, the stage reading, and a timeline on loopback
sources (docs/grading.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from loopback import LoopbackServer

from monitor.config import SanctionsSourceConfig, SourceConfig
from monitor.grading import Cue, Grade, Grading, Sourcing, Voice, add_report, crossed, grade_of, read_stage
from monitor.http import HttpClient
from monitor.models import Alert
from monitor.pipeline import CycleReport, poll
from monitor.rules import Matcher, load_rules
from monitor.store import alerts, events, open_store

ROOT = Path(__file__).parents[1]


# --- the number, one rule at a time ------------------------------------------------------------------

@pytest.mark.parametrize(("voices", "denied", "expected"), [
    pytest.param([Voice("a.org", "C"), Voice("b.org", "B")], False, "B1", id="two independent C-or-better: 1"),
    pytest.param([Voice("gov.uk", "A", official=True)], False, "A1", id="one official: 1"),
    pytest.param([Voice("a.org", "B")], False, "B2", id="one A/B: 2"),
    pytest.param([Voice("a.org", "C")], False, "C3", id="one C: 3"),
    pytest.param([Voice("a.org", "E"), Voice("b.org", "D")], False, "D3", id="D and E are not corroboration: 3"),
    pytest.param([Voice("a.org", "F")], False, "F6", id="only F: 6"),
    pytest.param([Voice("a.org", "B"), Voice("b.org", "C")], True, "B4", id="denied by B or better: 4"),
])
def test_the_credibility_rules(voices: list[Voice], denied: bool, expected: str) -> None:
    assert str(grade_of(voices, denied)) == expected


def test_one_owner_or_one_domain_is_one_voice_and_a_copy_none() -> None:
    grading = add_report(Grading(), Sourcing("a.org", "C", owner="media-group"), copy=False, denial=False)
    grading = add_report(grading, Sourcing("b.org", "C", owner="media-group"), copy=False, denial=False)
    grading = add_report(grading, Sourcing("a.org", "C"), copy=False, denial=False)
    assert str(grading.grade) == "C3"  # a.org counted twice would make it C1
    grading = add_report(Grading(), Sourcing("x.org", "C"), copy=False, denial=False)
    assert str(add_report(grading, Sourcing("y.org", "B"), copy=True, denial=False).grade) == "C3"


def test_a_denial_by_a_reliable_source_lasts_until_a_confirmation() -> None:
    grading = add_report(Grading(), Sourcing("a.org", "B"), copy=False, denial=False)
    doubted = add_report(grading, Sourcing("b.org", "B"), copy=False, denial=True)
    assert str(doubted.grade) == "B4"
    assert str(add_report(grading, Sourcing("kcna.kp", "E"), copy=False, denial=True).grade) == "B2"
    assert str(add_report(doubted, Sourcing("c.org", "C"), copy=False, denial=False).grade) == "B1"


def test_grades_compare_letter_and_number() -> None:
    assert Grade.parse("b1").at_least(Grade.parse("B2"))
    assert not Grade.parse("A3").at_least(Grade.parse("B2"))
    assert crossed(Grade.parse("C3"), Grade.parse("B1"), Grade.parse("B2"))
    assert not crossed(Grade.parse("B2"), Grade.parse("B1"), Grade.parse("B2"))
    with pytest.raises(ValueError, match="Admiralty"):
        Grade.parse("G9")


# --- the ladder ---------------------------------------------------------------------------------------

def cue(stage: str, start: int, sentence: int = 0, field: str = "content") -> Cue:
    return Cue(stage, field, sentence, start, start + 5)


@pytest.mark.parametrize(("cues", "anchors", "label"), [
    pytest.param([cue("observed", 10)], [("content", 0)], "observed", id="a fact"),
    pytest.param([cue("intent", 0), cue("designated", 20)], [("content", 0)], "intent", id="hedged: may be sanctioned"),
    pytest.param([cue("designated", 0), cue("intent", 7)], [], "intent", id="modal after the verb (ja, ko)"),
    pytest.param([cue("observed", 0), cue("intent", 40, 1)], [], "observed", id="the highest sentence"),
    pytest.param([cue("denied", 0), cue("observed", 20)], [], "denied", id="a denial asserts nothing"),
    pytest.param([cue("denied", 0), cue("observed", 0, 1)], [], "observed", id="a denial next to an assertion"),
    pytest.param([cue("observed", 0, 5)], [("content", 0)], "none", id="far from the key terms"),
    pytest.param([cue("agreed", 0, 0)], [("title", 0)], "agreed", id="a headline reaches the lead"),
    pytest.param([cue("negation", 10), cue("observed", 20)], [], "denied", id="it had not provided: a denial"),
    pytest.param([cue("observed", 0), cue("negation_after", 7)], [], "denied", id="派遣していない (ja, ko)"),
    pytest.param([cue("negation", 0), cue("observed", 60)], [], "observed", id="a negation far before"),
    pytest.param([cue("pending", 10), cue("designated", 20)], [], "none", id="not yet designated: nothing"),
    pytest.param([cue("intent", 0), Cue("observed", "content", 0, 30, 35, clause=1)], [], "observed",
                 id="正计划进一步派遣…，其中1000人已抵达: the plan hedges its own clause"),
])
def test_the_stage_reading(cues: list[Cue], anchors: list[tuple[str, int]], label: str) -> None:
    assert read_stage(cues, anchors).label == label


@pytest.mark.parametrize(("name", "rows", "floor"), [
    ("stage_dev.jsonl", 60, 0.85),  # the development set (two annotators)
    ("stage_gathered_tune.jsonl", 70, 0.85),  # gathered with the search tool; the lexicons were tuned on it
    ("stage_gathered_holdout.jsonl", 65, 0.65),  # ... and never looked at: the honest figure
])
def test_the_stage_lexicons_reach_a_floor_on_the_labelled_snippets(
        name: str, rows: int, floor: float, capsys: pytest.CaptureFixture[str]) -> None:
    """The evaluation of docs/grading.md, run in CI: `monitor backtest --labels` on the labelled snippets."""
    from monitor.cli import main

    main(["backtest", "--labels", str(ROOT / "tests" / "data" / name), "--rules", str(ROOT / "rules"),
          "--format", "jsonl"])
    report = capsys.readouterr().err
    right, total = report.split("stage accuracy ")[1].split(" =")[0].split("/")
    assert int(total) >= rows and int(right) / int(total) >= floor, report


# --- a timeline on loopback sources ----------------------------------------------------------------

T0 = datetime(2025, 3, 1, 8, tzinfo=UTC)


def rss(link: str, title: str, text: str, at: datetime) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>{link}</link>'
            f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>{at:%a, %d %b %Y %H:%M:%S +0000}</pubDate><description>{text}</description></item>"
            "</channel></rss>").encode()


CONSIDERING = ("North Korea is considering sending 25,000 workers to the Alabuga drone plant in Russia to raise "
               "output, according to diplomats familiar with the talks between Pyongyang and Moscow officials.")
ARRIVED = ("The first group of North Korean workers arrived at the Alabuga drone plant in Tatarstan this week, "
           "South Korean intelligence said, and began work on the assembly lines of Geran drones.")
DENIAL = ("Pyongyang denied that North Korean workers were sent to the Alabuga drone plant, calling the reports "
          "a fabrication by hostile forces.")
SDN = ROOT.parent / "shared" / "corpus" / "sanctions" / "watchman__ofactest_sdn.csv"  # 17 real OFAC entries
# The designation that reaches the list on the story's last day: a row in OFAC's legacy SDN CSV format,
# written for this test (the other rows are OFAC's own).
ALABUGA_ROW = ('\r\n90001,"JOINT STOCK COMPANY SPECIAL ECONOMIC ZONE OF INDUSTRIAL PRODUCTION TYPE ALABUGA",-0- ,'
               '"RUSSIA-EO14024",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"Yelabuga, Republic of Tatarstan, Russia."')


def test_a_story_climbs_the_ladder(loopback: LoopbackServer, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'monitor.db'}")
    matcher = Matcher(load_rules(ROOT / "rules"))
    steps = [  # (source keys, article link, title, text)
        ({"reliability": "C"}, "https://regional-news.example.com/a1", "North Korea may send workers", CONSIDERING),
        ({"reliability": "D", "affiliation": ("aggregator",)}, "https://syndicator.example.net/copy/a1",
         "North Korea may send workers to Russia", CONSIDERING + " Read more."),
        ({"reliability": "B", "affiliation": ("wire",)}, "https://wire.example.org/arrived",
         "North Korean workers arrive at Alabuga", ARRIVED),
        ({"reliability": "E", "affiliation": ("state-media:kp",)}, "https://kcna.example.kp/denial",
         "Pyongyang denies sending workers", DENIAL),
    ]
    seen: list[tuple[str, str | None, str | None, bool]] = []
    with HttpClient(retries=0, deadline=10) as client:
        def step(source: SourceConfig, at: datetime) -> CycleReport:
            report = poll(source, client, store, matcher, lambda: at + timedelta(minutes=5))
            with store.engine.connect() as conn:
                event = conn.execute(sa.select(events)).mappings().one()
                queued = [Alert.from_dict(r.payload) for r in conn.execute(
                    sa.select(alerts).where(alerts.c.id.in_(report.alerts)))]
            kind = queued[-1].kind.value if queued else "-"
            seen.append((kind, event["grade"], event["stage"], bool(event["denied"])))
            return report

        for n, (keys, link, title, text) in enumerate(steps):
            at = T0 + timedelta(hours=n)
            feed = loopback.serve_bytes(f"/feed{n}.xml", rss(link, title, text, at), content_type="application/rss+xml")
            report = step(SourceConfig(name=f"source{n}", url=feed, **keys), at)  # type: ignore[arg-type]
            assert report.error is None and report.new == 1, report
        # OFAC's list, read the day before (the baseline: nothing in it is news), then with the designation
        listed = SanctionsSourceConfig(name="ofac-sdn", list="ofac-sdn", url=loopback.url("/sdn.csv"))
        loopback.serve_bytes("/sdn.csv", SDN.read_bytes(), content_type="text/csv")
        assert step(listed, T0 - timedelta(days=1)).baseline
        seen.pop()
        changed = SDN.read_bytes().rstrip(b"\r\n") + ALABUGA_ROW.encode()
        loopback.serve_bytes("/sdn.csv", changed, content_type="text/csv")
        report = step(listed, T0 + timedelta(hours=len(steps)))
        assert report.error is None and report.new == 1, report
    assert seen == [
        ("alert", "C3", "intent", False),  # a C source considering it
        ("follow_up", "C3", "intent", False),  # the rewrite on a syndicating site: the same voice
        ("update", "B1", "observed", False),  # a B source: arrived
        ("follow_up", "B1", "observed", True),  # an E state outlet denies it: marker shown, grade unchanged
        ("update", "A1", "designated", True),  # the designation of its entity, on OFAC's list
    ]
    with store.engine.connect() as conn:
        payloads = [r.payload for r in conn.execute(sa.select(alerts).order_by(alerts.c.id))]
    update = next(p for p in payloads if p["kind"] == "update")
    assert (update["grade_before"], update["stage_before"], update["grade"], update["stage"]) == (
        "C3", "intent", "B1", "observed")
    assert json.dumps(payloads)  # the outbox rows stay JSON
    store.close()
