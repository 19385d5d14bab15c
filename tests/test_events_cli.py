"""`monitor events`, `monitor events show`, `monitor silence add|list` on a store filled by `monitor once`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from loopback import LoopbackServer

ROOT = Path(__file__).parents[1]


def monitor(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=60)


def test_events_and_silences(loopback: LoopbackServer, tmp_path: Path) -> None:
    feed = loopback.serve_file("/feed.xml", ROOT / "tests" / "data" / "feeds" / "seed-story.xml")
    config = tmp_path / "monitor.toml"
    config.write_text(
        f'rules_dir = "{ROOT / "rules"}"\n[store]\nurl = "sqlite:///{tmp_path / "monitor.db"}"\n'
        f'[[sources]]\nname = "seed"\nurl = "{feed}"\n'
        '[[notifiers]]\nname = "console"\nkind = "console"\nformat = "jsonl"\n'
    )
    assert monitor("once", config=config).returncode == 0

    listing = monitor("events", config=config)
    assert listing.returncode == 0
    [row] = [line for line in listing.stdout.splitlines()[1:]]
    assert row.split()[:3] == ["1", "alerted", "critical"]

    shown = monitor("events", "show", "1", config=config)
    assert "2 independent sources, 2 reports" in shown.stdout
    assert "follow_up: joins event 1 (rule " in shown.stdout and "entities: alabuga" in shown.stdout
    assert "evidence: text hash" in shown.stdout
    assert monitor("events", "show", "99", config=config).returncode == 1

    added = monitor("silence", "add", "--rule", "dprk-labor-abroad", "--for", "24h", "--reason", "known story",
                    config=config)
    assert added.returncode == 0 and "silence #1: rule dprk-labor-abroad quiet until" in added.stdout
    assert "dprk-labor-abroad" in monitor("silence", "list", config=config).stdout
    bad = monitor("silence", "add", "--rule", "x", "--for", "a day", "--reason", "r", config=config)
    assert bad.returncode == 2 and '"a day" is not a duration' in bad.stderr
