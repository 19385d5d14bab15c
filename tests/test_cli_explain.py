"""`monitor rules explain --url`: the page is fetched and read in its own charset."""

from __future__ import annotations

from pathlib import Path

import pytest
from loopback import LoopbackServer
from test_rules import RULE, write_rules

from monitor.cli import main

PAGE = "<html><body><p>КНДР направит рабочих в Алабугу.</p></body></html>"


def test_a_page_in_windows_1251_is_read_by_its_charset(
    loopback: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    url = loopback.serve_bytes("/page.html", PAGE.encode("windows-1251"),
                               content_type="text/html; charset=windows-1251")
    rules = write_rules(tmp_path, {"r.yaml": RULE})
    config = tmp_path / "c.toml"
    config.write_text("")
    code = main(["rules", "explain", "dprk-labor-russian-defense", "--rules", str(rules), "--url", url,
                 "--language", "ru", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "MATCH" in out and "«Алабугу»" in out
