"""Settings: TOML, environment overrides, and messages that name the key."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from loopback import LoopbackServer

from monitor.config import DEFAULT_STORE_URL, load_settings, parse_duration
from monitor.errors import ConfigError

ROOT = Path(__file__).parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(text)
    return path


SOURCE = '[[sources]]\nname = "{name}"\nkind = "rss"\nurl = "{url}"\ninterval = "{interval}"\n'


def test_defaults_need_no_file() -> None:
    settings = load_settings(None, environ={})
    assert settings.store.url == DEFAULT_STORE_URL
    assert [(n.name, n.kind, n.format) for n in settings.notifiers] == [("console", "console", "text")]
    assert settings.sources == [] and settings.routes == []


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), (45, 45)])
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_the_example_config_loads() -> None:
    settings = load_settings(ROOT / "config.example.toml", environ={})
    assert len(settings.sources) >= 12
    assert {s.language for s in settings.sources} >= {"en", "ru", "uk", "ko", "ja"}
    assert [n.kind for n in settings.notifiers] == ["console"]


def test_the_file_can_come_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, SOURCE.format(name="a", url="https://example.org/feed", interval="30s"))
    settings = load_settings(None, environ={"MONITOR_CONFIG": str(path)})
    assert settings.sources[0].interval == timedelta(seconds=30)


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[store]\nurl = "sqlite:///from-file.db"\n')
    monkeypatch.setenv("MONITOR_STORE__URL", "sqlite:///from-env.db")
    assert load_settings(path).store.url == "sqlite:///from-env.db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SOURCE.format(name="a", url="https://x.org/", interval="10 minutes"),
         'sources[0].interval: "10 minutes" is not a duration like 10m'),
        (SOURCE.format(name="a", url="ftp://x.org/", interval="10m"),
         'sources[0].url: "ftp://x.org/" is not an http(s) URL'),
        ('[[sources]]\nname = "a"\nkind = "rss"\n', "sources[0].url: missing"),
        ('[[sources]]\nname = "a"\nurl = "https://x.org/"\nintervall = "1m"\n', "sources[0].intervall: unknown key"),
        (SOURCE.format(name="a", url="https://x.org/1", interval="1m") * 2, 'sources[1].name: "a" is used twice'),
        ('[[notifiers]]\nname = "c"\nformat = "xml"\n', "notifiers[0].format: Input should be 'text' or 'jsonl'"),
        ('[[routes]]\nnotifiers = ["slack"]\n', 'routes[0].notifiers: "slack" is not a notifier defined'),
        ("[store\nurl = 1\n", "not valid TOML"),
    ],
)
def test_invalid_configs_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ={})
    assert message in str(caught.value)
    assert str(tmp_path / "monitor.toml") in str(caught.value)


def test_a_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found; copy config.example.toml"):
        load_settings(tmp_path / "nowhere.toml", environ={})


def test_the_command_exits_2_on_a_bad_config(tmp_path: Path) -> None:
    path = write(tmp_path, SOURCE.format(name="a", url="https://x.org/", interval="10 minutes") * 4)
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "check", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert 'sources[3].interval: "10 minutes" is not a duration like 10m' in done.stderr


def test_an_unknown_source_kind_is_a_config_error(tmp_path: Path) -> None:
    source = SOURCE.format(name="a", url="https://x.org/", interval="1m").replace('"rss"', '"carrier-pigeon"')
    path = write(tmp_path, source)
    rules = str(ROOT / "tests" / "data" / "rules")
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "check", "--config", str(path), "--rules", rules],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    known = "gdelt, html, rss, sanctions, telegram"
    assert f'sources[0].kind: unknown source kind "carrier-pigeon" (known: {known})' in done.stderr


def test_check_fetches_every_source(tmp_path: Path, loopback: LoopbackServer) -> None:
    good = loopback.serve_file("/feed.xml", ROOT / "tests" / "data" / "feeds" / "seed-story.xml")
    text = SOURCE.format(name="good", url=good, interval="1m") + SOURCE.format(
        name="gone", url=loopback.url("/status/404"), interval="1m"
    )
    rules = str(ROOT / "tests" / "data" / "rules")
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "check", "--config", str(write(tmp_path, text)),
                           "--rules", rules], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "config ok: 2 sources" in done.stdout and "rules ok: 1 enabled rules" in done.stdout
    assert re.search(r"good\s+ok: 7 items", done.stdout)
    assert re.search(r"gone\s+error: .*HTTP 404", done.stdout)


def test_check_reports_a_parser_that_crashes(tmp_path: Path, loopback: LoopbackServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from monitor import sources
    from monitor.cli import _probe_sources

    def crashes(result: object, source: object) -> object:
        raise RuntimeError("a third-party parser broke")

    monkeypatch.setitem(sources._KINDS, "rss", replace(sources._KINDS["rss"], parse=crashes))
    url = loopback.serve_file("/feed.xml", ROOT / "tests" / "data" / "feeds" / "seed-story.xml")
    settings = load_settings(write(tmp_path, SOURCE.format(name="good", url=url, interval="1m")), environ={})
    [(source, outcome)] = list(_probe_sources(settings))
    assert source.name == "good"
    assert outcome.startswith("error: the rss parser crashed: RuntimeError")
