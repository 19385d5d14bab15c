"""Settings: a TOML file, overridden by `MONITOR_*` environment variables, validated once at start.

Every problem is reported with the key it concerns (`sources[3].interval: …`), and the whole file is
checked at once so that a user fixes everything in one pass.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from monitor.errors import ConfigError
from monitor.models import SEVERITIES

DEFAULT_STORE_URL = "sqlite:///data/monitor.db"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """`30s`, `10m`, `2h`, `1d` (or a number of seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f'"{value}" is not a duration like 10m (units: s, m, h, d)')
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _UNIT_SECONDS[unit])


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Section):
    url: str = DEFAULT_STORE_URL


class SourceConfig(_Section):
    name: str = Field(min_length=1)
    kind: str = "rss"
    url: str
    interval: timedelta = timedelta(minutes=10)
    language: str | None = None  # when the source does not say
    enabled: bool = True
    tags: tuple[str, ...] = ()

    _interval = field_validator("interval", mode="before")(parse_duration)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f'"{value}" is not an http(s) URL')
        return value

    @field_validator("interval")
    @classmethod
    def _not_too_fast(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
        return value


class NotifierConfig(_Section):
    name: str = Field(min_length=1)
    kind: Literal["console"] = "console"
    format: Literal["text", "jsonl"] = "text"


class RouteConfig(_Section):
    """One branch of the routing tree: alerts that match go to `notifiers`."""

    notifiers: tuple[str, ...]
    severity: str | None = None  # at least this severe
    tags: tuple[str, ...] = ()  # any of these
    rules: tuple[str, ...] = ()  # any of these rule ids
    continue_: bool = Field(default=False, alias="continue")

    @field_validator("severity")
    @classmethod
    def _known_severity(cls, value: str | None) -> str | None:
        if value is not None and value not in SEVERITIES:
            raise ValueError(f'"{value}" is not one of {", ".join(SEVERITIES)}')
        return value


def _console() -> list[NotifierConfig]:
    return [NotifierConfig(name="console", kind="console", format="text")]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MONITOR_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    store: StoreConfig = StoreConfig()
    rules_dir: Path | None = None
    sources: list[SourceConfig] = []
    notifiers: list[NotifierConfig] = Field(default_factory=_console)
    routes: list[RouteConfig] = []
    jitter: float = Field(default=0.1, ge=0, le=1)  # share of a source's interval
    outbox_interval: timedelta = timedelta(seconds=30)
    user_agent: str | None = None

    _outbox_interval = field_validator("outbox_interval", mode="before")(parse_duration)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init arguments; the environment overrides it.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _names_unique_and_known(self) -> Settings:
        problems = _duplicates("sources", [s.name for s in self.sources])
        problems += _duplicates("notifiers", [n.name for n in self.notifiers])
        known = {n.name for n in self.notifiers}
        for i, route in enumerate(self.routes):
            problems += [
                f'routes[{i}].notifiers: "{name}" is not a notifier defined in [[notifiers]]'
                for name in route.notifiers
                if name not in known
            ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def source(self, name: str) -> SourceConfig:
        return next(s for s in self.sources if s.name == name)


def _duplicates(section: str, names: list[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for i, name in enumerate(names):
        if name in seen:
            problems.append(f'{section}[{i}].name: "{name}" is used twice; names must be unique')
        seen.add(name)
    return problems


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read `path` (else `$MONITOR_CONFIG`, else defaults only) and the environment."""
    environ = os.environ if environ is None else environ
    chosen = path or environ.get("MONITOR_CONFIG")
    data = _read_toml(Path(chosen)) if chosen else {}
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError([_describe(e) for e in exc.errors()], str(chosen) if chosen else None) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(
            [f"file not found; copy config.example.toml to {path} or pass --config PATH"], str(path)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(path)) from None


def _describe(error: Mapping[str, Any]) -> str:
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
    key = key.lstrip(".") or "config"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key; check its spelling against config.example.toml"
    elif error["type"] == "missing":
        message = "missing; this key is required"
    if not error["loc"]:  # a whole-config check lists its own keys
        return message
    return f"{key}: {message}"
