"""`monitor run` as a real process with Slack (a local Slack Web API) and an email digest (aiosmtpd):
the seed story's two reports make one Slack message and one thread reply, and a digest whose time
came while no daemon ran goes out when it starts. The token reaches no output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from loopback import LoopbackServer
from slack_api import TOKEN, SlackAPI
from smtp_server import SMTPServer

from monitor.store import open_store

ROOT = Path(__file__).parents[1]
FEED = ROOT / "tests" / "data" / "feeds" / "seed-story.xml"


def test_the_daemon_threads_the_story_in_slack_and_sends_a_missed_digest(loopback: LoopbackServer,
                                                                          tmp_path: Path) -> None:
    slack = SlackAPI(loopback)
    feed = loopback.serve_file("/feed.xml", FEED)
    database = tmp_path / "monitor.db"
    store = open_store(f"sqlite:///{database}")
    store.request_digest("daily-digest", datetime(2025, 1, 1, 6, 0, tzinfo=UTC))  # asked long ago ...
    store.finish_digest(1, "empty", datetime(2025, 1, 1, 6, 0, tzinfo=UTC))  # ... and nothing since
    store.close()
    with SMTPServer() as smtp:
        config = tmp_path / "monitor.toml"
        config.write_text(
            f'rules_dir = "{ROOT / "tests" / "data" / "rules"}"\n[store]\nurl = "sqlite:///{database}"\n'
            f'[[sources]]\nname = "seed"\nurl = "{feed}"\ninterval = "1h"\n'
            f'[[notifiers]]\nname = "slack-alerts"\nkind = "slack"\nchannel = "#sanctions-alerts"\n'
            f'base_url = "{slack.base_url}"\n'
            f'[[notifiers]]\nname = "daily-digest"\nkind = "email"\nsmtp_host = "127.0.0.1"\n'
            f'smtp_port = {smtp.port}\nsecurity = "none"\nsender = "monitor@example.org"\n'
            f'recipients = ["desk@example.org"]\nschedule = "0 7 * * *"\ntimezone = "Europe/Berlin"\n'
            "send_empty = true\n"
        )
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "SLACK_BOT_TOKEN": TOKEN}
        process = subprocess.Popen([sys.executable, "-m", "monitor.cli", "run", "-v", "--config", str(config)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
        try:
            parent, reply = slack.wait_for_messages(2, timeout=30)
            [mail] = smtp.wait_for_mail(1, timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert parent["channel"] == "C0ALERTS" and reply["thread_ts"] == parent["ts"]
    assert mail.message["Subject"].startswith("monitor digest:")
    assert "was due at" in err and "while monitor was not running" in err
    assert TOKEN not in out + err
