"""`monitor demo`: bundled feeds on loopback, the shipped rules, alerts printed, from any directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from monitor.demo import bundled_feeds


def test_the_demo_prints_alerts_from_the_bundled_feeds(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "demo", "--format", "jsonl"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    alerts = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(alerts) >= 3
    assert {a["source"] for a in alerts} <= {f"demo-{name}" for name in bundled_feeds()}
    assert "dprk_labor" in {t for a in alerts for t in a["tags"]}
    assert "alerts from" in done.stderr
    assert not (tmp_path / "data").exists()  # the demo's database is temporary


def test_the_feeds_are_packaged() -> None:
    feeds = bundled_feeds()
    assert len(feeds) >= 2 and all(body.lstrip().startswith(b"<?xml") for body in feeds.values())
