"""`monitor run` as a real process: polls, alerts, reloads rules on SIGHUP, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from loopback import LoopbackServer

ROOT = Path(__file__).parents[1]
FEED = ROOT / "tests" / "data" / "feeds" / "seed-story.xml"


class Lines:
    """A process stream read in a thread, so the test can wait for a line with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self._queue.put(line) for line in stream], daemon=True).start()

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} within {timeout} s; saw:\n{''.join(self.seen)}")


@pytest.fixture
def daemon(loopback: LoopbackServer, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Lines, Lines, Path]]:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "tests" / "data" / "rules", rules)
    feed_url = loopback.serve_file("/feed.xml", FEED)
    config = tmp_path / "monitor.toml"
    config.write_text(
        f'rules_dir = "{rules}"\n[store]\nurl = "sqlite:///{tmp_path / "monitor.db"}"\n'
        f'[[sources]]\nname = "seed"\nurl = "{feed_url}"\ninterval = "1h"\n'
        '[[notifiers]]\nname = "console"\nkind = "console"\nformat = "jsonl"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "run", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout and process.stderr
    try:
        yield process, Lines(process.stdout), Lines(process.stderr), rules
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_polls_alerts_reloads_and_stops(daemon: tuple[subprocess.Popen[str], Lines, Lines, Path]) -> None:
    process, out, err, rules = daemon
    out.wait_for('"rule_id": "dprk-labor"')  # alerts right after the first poll, not at the next flush

    broken = rules / "dprk-labor.yaml"
    broken.write_text(broken.read_text().replace("concept: dprk", "concept: no_such_concept"))
    process.send_signal(signal.SIGHUP)
    err.wait_for("rules not reloaded, the old rules stay in force")
    err.wait_for(f'{broken}:7:16: unknown concept "no_such_concept"')

    broken.write_text(broken.read_text().replace("no_such_concept", "dprk"))
    process.send_signal(signal.SIGHUP)
    err.wait_for("rules reloaded")

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert process.poll() == 0


def test_check_shows_a_broken_rule_file_with_its_location(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "tests" / "data" / "rules", rules)
    broken = rules / "dprk-labor.yaml"
    broken.write_text(broken.read_text().replace("concept: dprk", "concept: no_such_concept"))
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "check", "--offline", "--rules", str(rules)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert f'{broken}:7:16: unknown concept "no_such_concept"' in done.stderr
