"""docs/notifications.md shows what the code renders: the Slack blocks and the digest HTML there are
the renderers' output for the sample below. After changing a renderer, write them anew with

    MONITOR_WRITE_DOCS=1 .venv/bin/python -m pytest tests/test_notifications_doc.py
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.models import Alert, AlertKind, Report, Snippet
from monitor.notify.digest import HeldRecord, Queued, build_digest, digest_html
from monitor.notify.render import slack_alert, slack_reply

DOCS = Path(__file__).parents[1] / "docs"
WRITE = os.environ.get("MONITOR_WRITE_DOCS") == "1"
T0 = datetime(2025, 6, 19, 6, 12, tzinfo=UTC)
SENTENCE = ("North Korea plans to send up to 25,000 workers to the Alabuga special economic zone in Tatarstan, "
            "where Russia assembles Shahed-type drones, Japanese broadcaster NHK reported.")

YONHAP = Report("yonhap-en", "https://en.yna.co.kr/view/AEN20250619000351315",
                "N. Korea to send 25,000 workers to Russian drone plant: report", T0, "yna.co.kr")
NKNEWS = Report("nk-news", "https://www.nknews.org/2025/06/north-korea-alabuga-workers/",
                "North Korea to dispatch thousands of laborers to Russian drone factory", T0.replace(hour=7),
                "nknews.org")
REUTERS = Report("reuters-world", "https://www.reuters.com/world/asia-pacific/north-korea-workers-russia-drones/",
                 "North Korean workers headed for Russian drone plant, NHK says", T0.replace(hour=8), "reuters.com")


def marks(*words: str, text: str = SENTENCE) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((text.index(w), text.index(w) + len(w)) for w in words))


FIRST = Alert(
    id=41, event_id=17, kind=AlertKind.ALERT, rule_id="dprk-labor-russian-defense",
    rule_title="North Korean labour for Russia's defence industry", severity="high",
    tags=("dprk_labor", "dprk_russia_military"), rule_ids=("dprk-labor-russian-defense",),
    title=YONHAP.title, url=YONHAP.url, source=YONHAP.source, published=T0, matched_at=T0,
    snippet=Snippet("content", SENTENCE, marks("North Korea", "workers", "Alabuga")), coverage=(YONHAP,),
)
FOLLOW_UP = Alert(
    id=44, event_id=17, kind=AlertKind.FOLLOW_UP, rule_id=FIRST.rule_id, rule_title=FIRST.rule_title,
    severity="high", tags=FIRST.tags, rule_ids=FIRST.rule_ids, title=NKNEWS.title, url=NKNEWS.url,
    source=NKNEWS.source, published=NKNEWS.published, matched_at=T0.replace(hour=7, minute=3),
    snippet=FIRST.snippet, coverage=(YONHAP, NKNEWS),
)


def sample_digest() -> str:
    later = Alert(**{**FOLLOW_UP.__dict__, "id": 47, "title": REUTERS.title, "url": REUTERS.url,
                     "source": REUTERS.source, "coverage": (YONHAP, NKNEWS, REUTERS)})
    tanker_text = "The Council listed the North Korean tanker Yu Jong 2 for carrying refined oil past UN limits."
    tanker = Alert(
        id=45, event_id=18, rule_id="sanctions-designation", rule_title="New sanctions designations", severity="medium",
        tags=("sanctions_action",), rule_ids=("sanctions-designation",),
        title="EU adds North Korean tanker to its sanctions list", url="https://www.consilium.europa.eu/en/press/x",
        source="eu-council-press", published=T0.replace(hour=9), matched_at=T0.replace(hour=9, minute=4),
        snippet=Snippet("content", tanker_text, marks("listed", "North Korean", "tanker", text=tanker_text)),
        coverage=(Report("eu-council-press", "https://www.consilium.europa.eu/en/press/x",
                         "EU adds North Korean tanker to its sanctions list", T0.replace(hour=9),
                         "europa.eu"),),
    )
    accord = "Russia and North Korea signed an accord on sending North Korean workers to Russian industry."
    earlier = Alert(**{**FIRST.__dict__, "id": 12, "event_id": 9, "title": "Russia and North Korea sign labour accord",
                       "snippet": Snippet("content", accord, marks("workers", text=accord)),
                       "url": "https://meduza.io/en/news/2025/06/18/accord", "source": "meduza-en",
                       "coverage": (Report("meduza-en", "https://meduza.io/en/news/2025/06/18/accord",
                                           "Russia and North Korea sign labour accord", T0, "meduza.io"),)})
    earlier_now = Alert(**{**earlier.__dict__, "id": 46, "severity": "high",
                           "coverage": (*earlier.coverage, Report("tass-ru", "https://tass.ru/x", "x", T0, "tass.ru"))})
    queued = [Queued(1, FIRST), Queued(2, FOLLOW_UP), Queued(3, tanker), Queued(4, earlier_now), Queued(5, later)]
    held = [
        HeldRecord(19, "Iranian drone parts found in Alabuga warehouse", "hold",
                   "new story held for corroboration: 1 of 2 independent sources", False, "telegram-rybar",
                   "Iranian drone parts found in Alabuga warehouse"),
        HeldRecord(17, YONHAP.title, "follow_up", "joins event 17 (near-duplicate of one of its articles)", True,
                   "joongang-daily", "N. Korea to send 25,000 workers to Russian drone plant"),
        HeldRecord(17, YONHAP.title, "follow_up", "joins event 17 (near-duplicate of one of its articles)", True,
                   "yonhap-ko", "북한, 러시아 드론공장에 노동자 2만5천명 파견"),
    ]
    digest = build_digest("daily-digest", queued, {9: earlier}, held, T0.replace(day=18, hour=5, minute=0),
                          T0.replace(hour=5, minute=0, day=20))
    return digest_html(digest, ZoneInfo("Europe/Berlin"))


def block(name: str, text: str) -> str:
    found = re.search(rf"<!-- {name} -->\n```json\n(.*?)\n```", text, re.S)
    assert found, f"docs/notifications.md has no block marked <!-- {name} -->"
    return found.group(1)


def check(name: str, rendered: object) -> None:
    path = DOCS / "notifications.md"
    text = path.read_text()
    shown = json.dumps(rendered, indent=2, ensure_ascii=False)
    if WRITE:
        path.write_text(text.replace(block(name, text), shown))
    else:
        assert block(name, text) == shown, f"{name} in docs/notifications.md is stale; see this test's docstring"


def test_the_slack_alert_in_the_docs_is_what_the_code_renders() -> None:
    check("slack-alert", slack_alert(FIRST))


def test_the_slack_follow_up_in_the_docs_is_what_the_code_renders() -> None:
    check("slack-follow-up", slack_reply(FOLLOW_UP))


def test_the_digest_in_the_docs_is_what_the_code_renders() -> None:
    path = DOCS / "digest-example.html"
    if WRITE:
        path.write_text(sample_digest())
    assert path.read_text() == sample_digest(), "docs/digest-example.html is stale; see this test's docstring"
