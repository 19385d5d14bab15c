"""Near-duplicates: copies of one text stay one text; distinct texts on one topic stay apart."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from monitor.fingerprint import band_keys, containment, fingerprint, near_duplicate, similarity
from monitor.models import Fingerprint

WIRE = ("North Korea is considering dispatching 25,000 workers to a Russian drone production plant, further "
        "cementing military and industrial ties between Pyongyang and Moscow, according to a report by Japanese "
        "outlet NHK on Thursday. Citing Russian and Western diplomatic sources, NHK said the workers would be "
        "sent to a plant in the Alabuga special economic zone in Tatarstan, where Shahed drones are assembled.")
SAME_TOPIC = ("North Korea has sent some 11,000 troops to Russia's Kursk region, where they have fought Ukrainian "
              "forces since late last year, according to South Korea's National Intelligence Service, which said "
              "Pyongyang also supplied artillery shells and ballistic missiles to Moscow.")


def fp(text: str) -> Fingerprint:
    found = fingerprint(text)
    assert found is not None
    return found


def one_text(a: str, b: str) -> bool:
    return near_duplicate(fp(a), fp(b), jaccard=0.5, contained=0.8) is not None


@pytest.mark.parametrize(
    ("name", "copy"),
    [
        ("identical", WIRE),
        ("boilerplate around it", "SEOUL (Yonhap) -- " + WIRE + " Subscribe to our newsletter. All rights reserved."),
        ("sentences reordered", WIRE.split(". ", 1)[1] + " " + WIRE.split(". ", 1)[0] + "."),
        ("ending trimmed", WIRE.rsplit(". ", 1)[0] + "."),
        ("other quotes and case", WIRE.upper().replace("'", "’")),
    ],
)
def test_copies_are_one_text(name: str, copy: str) -> None:
    assert one_text(WIRE, copy), name


def test_another_story_on_the_same_topic_is_not() -> None:
    assert not one_text(WIRE, SAME_TOPIC)
    assert similarity(fp(WIRE), fp(SAME_TOPIC)) < 0.2


def test_containment_needs_enough_text() -> None:
    short = "North Korea sends workers."
    assert containment(fp(short), fp(WIRE + " " + short)) == 0.0  # too short to say


def test_signatures_are_stable_across_processes() -> None:
    # Stored signatures are compared with tomorrow's: no per-process hash seed may enter them.
    code = "import sys; from monitor.fingerprint import fingerprint; print(fingerprint(sys.argv[1]).values[:4])"
    other = subprocess.run([sys.executable, "-c", code, WIRE], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert other.stdout.strip() == str(fp(WIRE).values[:4])
    assert len(band_keys(fp(WIRE))) == 32 and band_keys(fp(WIRE)) == band_keys(fp(WIRE.upper()))


def test_no_words_no_fingerprint() -> None:
    assert fingerprint(" — ") is None
