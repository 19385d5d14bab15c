"""Fixtures shared by the test suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from engines import store_url_for
from loopback import LoopbackServer
from notify_support import Clock
from slack_api import SlackAPI

from monitor.store import Store, open_store

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """A started HTTP server on 127.0.0.1 (port 0) with scenario routes; see tests/loopback.py.

    Proxy settings from the environment are cleared for the test, so clients reach it directly.
    """
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with LoopbackServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL on each engine: a SQLite file, and a fresh PostgreSQL schema when
    MONITOR_TEST_POSTGRES_URL names a server (skipped, saying so, when it does not); see tests/engines.py."""
    with store_url_for(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A store in a SQLite file of the test's own (modules that test every engine define theirs)."""
    opened = open_store(f"sqlite:///{tmp_path / 'monitor.db'}")
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    """The injected clock of tests/notify_support.py: `now()`, and a `sleep` that moves time on."""
    return Clock()


@pytest.fixture
def slack(loopback: LoopbackServer) -> SlackAPI:
    """A local Slack Web API (tests/slack_api.py) that slack-sdk reaches through `base_url`."""
    return SlackAPI(loopback)
