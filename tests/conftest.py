"""Fixtures shared by the test suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loopback import LoopbackServer

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
