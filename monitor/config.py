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
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
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


class EventsConfig(_Section):
    """How articles group into events (one story, one alert)."""

    window: timedelta = timedelta(hours=72)  # an event takes joiners this long after it opened
    similarity: float = Field(default=0.5, gt=0, le=1)  # near-duplicate threshold (Jaccard of 3-word shingles)
    containment: float = Field(default=0.8, gt=0, le=1)  # or the shorter text's share found in the longer
    realert_base: timedelta = timedelta(hours=1)  # first interval of `realert: exponential`
    grade_threshold: str = Field(default="B2", pattern=r"^[A-F][1-6]$")  # a grade change across it: update

    _durations = field_validator("window", "realert_base", mode="before")(parse_duration)


class SourceConfig(_Section):
    """A source: the keys every kind takes. `kind = "rss"` (the default) takes these alone; the other
    built-in kinds add their own keys in the subclasses below; a third-party kind takes these."""

    name: str = Field(min_length=1)
    kind: str = "rss"
    url: str
    interval: timedelta = timedelta(minutes=10)
    language: str | None = None  # when the source does not say
    enabled: bool = True
    tags: tuple[str, ...] = ()
    full_text: bool = False  # fetch each new item's page once and extract the article body
    expect_every: timedelta | None = None  # silent longer than this: stale (default: 3 days; sanctions: never)
    max_bytes: int | None = Field(default=None, gt=0)  # response size cap (default: [http] max_bytes)
    # Analyst grading (docs/grading.md): the Admiralty reliability letter, affiliation tags (official,
    # state-media:ru, independent, wire, aggregator, …) and the owner that makes several sources one voice.
    reliability: Literal["A", "B", "C", "D", "E", "F"] = "F"
    affiliation: tuple[str, ...] = ()
    owner: str | None = None

    _interval = field_validator("interval", mode="before")(parse_duration)
    _expect_every = field_validator("expect_every", mode="before")(
        lambda value: None if value is None else parse_duration(value))

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


def _default_url(data: Any, url: str | None) -> Any:
    """Kinds with a default address: `url` replaces it (a mirror, a proxy, a loopback server in tests)."""
    if isinstance(data, Mapping) and data.get("url") is None and url is not None:
        return {**data, "url": url}
    return data


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'"{value}" is not a time zone like Europe/Berlin or UTC') from None
    return value


class HtmlSourceConfig(SourceConfig):
    """A listing page read with CSS selectors. `selector@attribute` reads an attribute instead of the text."""

    kind: str = "html"
    item: str = Field(min_length=1)  # one element per item
    title: str = "a"  # inside the item; its text
    link: str = "a[href]"  # inside the item; its href, resolved against the page URL
    date: str | None = None  # inside the item; a datetime/content attribute, else the text; else the link's date
    summary: str | None = None  # inside the item; its text
    date_order: Literal["dmy", "mdy", "ymd"] = "dmy"  # how to read 01/02/2025
    timezone: str = "UTC"  # for dates that carry no zone

    _zone = field_validator("timezone")(_time_zone)


class TelegramSourceConfig(SourceConfig):
    """A public channel's web preview, https://t.me/s/NAME."""

    kind: str = "telegram"
    channel: str = Field(pattern=r"^[A-Za-z0-9_]{3,64}$")
    max_pages: int = Field(default=5, ge=1, le=50)  # pages back (`?before=`) to catch up after downtime

    @model_validator(mode="before")
    @classmethod
    def _url(cls, data: Any) -> Any:
        channel = data.get("channel") if isinstance(data, Mapping) else None
        return _default_url(data, f"https://t.me/s/{channel}" if isinstance(channel, str) else None)


GDELT_DOC_API = "https://api.gdeltproject.org/api/v2/doc/doc"


class GdeltSourceConfig(SourceConfig):
    """A GDELT DOC 2.0 query in artlist mode; each result is an article."""

    kind: str = "gdelt"
    query: str = Field(min_length=1)  # GDELT query syntax: phrases, OR in parentheses, sourcelang:, near5: ...
    timespan: str = Field(default="1d", pattern=r"^\d+(min|h|d|w|m)$")  # 15min, 1h, 24h, 3d, 2w
    maxrecords: int = Field(default=75, ge=1, le=250)
    sort: Literal["datedesc", "dateasc", "hybridrel", "tonedesc", "toneasc"] = "datedesc"
    interval: timedelta = timedelta(minutes=15)

    @model_validator(mode="before")
    @classmethod
    def _url(cls, data: Any) -> Any:
        return _default_url(data, GDELT_DOC_API)


# The lists' official addresses (docs/sources.md); the UK publishes its list's address on a page, and
# OpenSanctions' default collection is large: give those a `url`.
SANCTIONS_LISTS: dict[str, str | None] = {
    "ofac-sdn": "https://www.treasury.gov/ofac/downloads/sdn.csv",
    "un": "https://scsanctions.un.org/resources/xml/en/consolidated.xml",
    "eu": "https://webgate.ec.europa.eu/fsd/fsf/public/files/xmlFullSanctionsList_1_1/content?token=dG9rZW4tMjAxNw",
    "uk": "https://www.gov.uk/government/publications/the-uk-sanctions-list",
    "opensanctions": None,
}


class SanctionsSourceConfig(SourceConfig):
    """An official sanctions list, diffed against its last good snapshot: each new, changed or removed
    designation is an article; the first snapshot is the baseline and alerts on nothing."""

    kind: str = "sanctions"
    list: Literal["ofac-sdn", "un", "eu", "uk", "opensanctions"]
    max_shrink: float = Field(default=0.05, ge=0, le=1)  # a snapshot that lost more than this share is held
    interval: timedelta = timedelta(hours=6)
    reliability: Literal["A", "B", "C", "D", "E", "F"] = "A"  # the issuing government's own list
    affiliation: tuple[str, ...] = ("official",)
    max_bytes: int | None = Field(default=200_000_000, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _url(cls, data: Any) -> Any:
        chosen = data.get("list") if isinstance(data, Mapping) else None
        return _default_url(data, SANCTIONS_LISTS.get(chosen) if isinstance(chosen, str) else None)


SOURCE_CONFIGS: dict[str, type[SourceConfig]] = {
    "rss": SourceConfig, "html": HtmlSourceConfig, "telegram": TelegramSourceConfig, "gdelt": GdeltSourceConfig,
    "sanctions": SanctionsSourceConfig,
}


def _source_kind(value: Any) -> str:
    """The config class of a `[[sources]]` entry: by its kind; a third-party kind takes the common keys."""
    if isinstance(value, BaseModel):
        return next((k for k, c in SOURCE_CONFIGS.items() if type(value) is c), "rss")
    kind = value.get("kind", "rss") if isinstance(value, Mapping) else "rss"
    return kind if kind in SOURCE_CONFIGS else "rss"


AnySourceConfig = Annotated[
    Annotated[SourceConfig, Tag("rss")] | Annotated[HtmlSourceConfig, Tag("html")]
    | Annotated[TelegramSourceConfig, Tag("telegram")] | Annotated[GdeltSourceConfig, Tag("gdelt")]
    | Annotated[SanctionsSourceConfig, Tag("sanctions")],
    Discriminator(_source_kind),
]


class WebConfig(_Section):
    """The read-only web view (`monitor web`, `monitor run --web-port`); see docs/web.md."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    username: str | None = None  # HTTP Basic; required with the password when host is not loopback
    password: SecretStr | None = None  # from MONITOR_WEB__PASSWORD only, never from the file
    fetch_urls: bool = False  # the rules "try it" form may fetch a pasted URL (through monitor/http.py)
    page_size: int = Field(default=50, ge=1, le=1000)


class HttpConfig(_Section):
    """The HTTP client: politeness per host, timeouts, the size cap."""

    min_host_interval: timedelta = timedelta(seconds=1)  # between two requests to one host
    per_host: int = Field(default=1, ge=1, le=16)  # requests in flight to one host at once
    hosts: dict[str, timedelta] = {}  # a longer gap for some hosts: {"api.gdeltproject.org" = "5s"}
    connect_timeout: timedelta = timedelta(seconds=10)
    read_timeout: timedelta = timedelta(seconds=30)
    deadline: timedelta = timedelta(seconds=120)  # one fetch, redirects and retries included
    max_bytes: int = Field(default=10_000_000, gt=0)
    retries: int = Field(default=2, ge=0, le=10)

    _durations = field_validator("min_host_interval", "connect_timeout", "read_timeout", "deadline",
                                 mode="before")(parse_duration)

    @field_validator("hosts", mode="before")
    @classmethod
    def _host_durations(cls, value: Any) -> Any:
        return {host: parse_duration(gap) for host, gap in value.items()} if isinstance(value, Mapping) else value


class _Notifier(_Section):
    name: str = Field(min_length=1)


class ConsoleConfig(_Notifier):
    """Alerts on standard output."""

    kind: Literal["console"] = "console"
    format: Literal["text", "jsonl"] = "text"


class SlackConfig(_Notifier):
    """Slack through a bot token (`chat.postMessage`, threads) or an incoming webhook (no threads)."""

    kind: Literal["slack"]
    channel: str | None = None  # "#sanctions-alerts" or a channel id; required with a bot token
    base_url: str = "https://slack.com/api/"  # a proxy or a local Slack-API server may stand in
    token_env: str = "SLACK_BOT_TOKEN"  # the variable that holds the bot token (never the file)
    webhook_url_env: str | None = None  # incoming-webhook mode: the variable that holds the webhook URL
    timeout: timedelta = timedelta(seconds=10)

    _timeout = field_validator("timeout", mode="before")(parse_duration)
    _base_url = field_validator("base_url")(lambda value: _http_url(value).rstrip("/") + "/")

    @model_validator(mode="after")
    def _channel_with_token(self) -> SlackConfig:
        if self.webhook_url_env is None and not self.channel:
            raise ValueError("channel: missing; a bot token posts to a channel (or set webhook_url_env)")
        return self


class EmailConfig(_Notifier):
    """SMTP: one email per alert, or a digest on a cron `schedule`."""

    kind: Literal["email"]
    smtp_host: str = Field(min_length=1)
    smtp_port: int | None = Field(default=None, gt=0, lt=65536)  # default: 465 ssl, 587 starttls, 25 none
    security: Literal["ssl", "starttls", "none"] = "starttls"
    username: str | None = None
    password_env: str = "MONITOR_SMTP_PASSWORD"
    ca_file: Path | None = None  # trust these CAs (PEM) instead of the system's: an internal relay
    sender: str
    recipients: tuple[str, ...] = Field(min_length=1)
    schedule: str | None = None  # cron (5 fields) in `timezone`; without it, one email per alert
    timezone: str = "UTC"
    send_empty: bool = False
    timeout: timedelta = timedelta(seconds=30)

    _timeout = field_validator("timeout", mode="before")(parse_duration)

    @field_validator("sender")
    @classmethod
    def _one_address(cls, value: str) -> str:
        return _address(value)

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_address(v) for v in value)

    _known_zone = field_validator("timezone")(_time_zone)

    @model_validator(mode="after")
    def _valid_schedule(self) -> EmailConfig:
        if self.schedule is not None:
            try:
                CronTrigger.from_crontab(self.schedule, timezone=ZoneInfo(self.timezone))
            except ValueError as exc:
                raise ValueError(f'schedule: "{self.schedule}" is not a cron expression like "0 7 * * *" '
                                 f"(minute hour day month weekday): {exc}") from None
        return self

    @property
    def port(self) -> int:
        return self.smtp_port or {"ssl": 465, "starttls": 587, "none": 25}[self.security]


class WebhookConfig(_Notifier):
    """A JSON POST per alert, signed with HMAC-SHA256."""

    kind: Literal["webhook"]
    url: str
    secret_env: str = "MONITOR_WEBHOOK_SECRET"  # the variable that holds the signing secret
    timeout: timedelta = timedelta(seconds=10)

    _timeout = field_validator("timeout", mode="before")(parse_duration)
    _url = field_validator("url")(lambda value: _http_url(value))


NotifierConfig = Annotated[ConsoleConfig | SlackConfig | EmailConfig | WebhookConfig, Field(discriminator="kind")]
NOTIFIER_CONFIGS: tuple[type[_Notifier], ...] = (ConsoleConfig, SlackConfig, EmailConfig, WebhookConfig)
NOTIFIER_KINDS = ("console", "slack", "email", "webhook")
# Secrets are read from the environment only; these keys in the file get a message saying so.
_SECRET_KEYS = {"token": "token_env", "password": "password_env", "webhook_url": "webhook_url_env",
                "secret": "secret_env"}


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f'"{value}" is not an http(s) URL')
    return value


def _address(value: str) -> str:
    name, address = parseaddr(value)
    if "@" not in address or any(c in value for c in "\r\n"):
        raise ValueError(f'"{value}" is not an email address like desk@example.org')
    return value


class RouteConfig(_Section):
    """One branch of the routing tree: alerts that match go to the notifiers named in `notify`."""

    notify: tuple[str, ...] = Field(validation_alias=AliasChoices("notify", "notifiers"))  # `notifiers`: old name
    severity: str | None = None  # at least this severe
    tags: tuple[str, ...] = ()  # any of these
    rules: tuple[str, ...] = ()  # any of these rule ids
    grade: str | None = Field(default=None, pattern=r"^[A-F][1-6]$")  # at least this Admiralty code ("B2")
    stage: tuple[str, ...] = ()  # any of these stages (intent, agreed, observed, designated)
    continue_: bool = Field(default=False, alias="continue")
    _notify_key: str = PrivateAttr(default="notify")  # as written in the file, for messages

    @model_validator(mode="wrap")
    @classmethod
    def _remember_notify_key(cls, data: Any, handler: ModelWrapValidatorHandler[RouteConfig]) -> RouteConfig:
        route = handler(data)
        if isinstance(data, Mapping) and "notify" not in data and "notifiers" in data:
            route._notify_key = "notifiers"
        return route

    @field_validator("stage", mode="before")
    @classmethod
    def _stages(cls, value: Any) -> Any:
        value = (value,) if isinstance(value, str) else value
        unknown = [v for v in value or () if v not in ("intent", "agreed", "observed", "designated")]
        if unknown:
            raise ValueError(f'"{unknown[0]}" is not one of intent, agreed, observed, designated')
        return value

    @field_validator("severity")
    @classmethod
    def _known_severity(cls, value: str | None) -> str | None:
        if value is not None and value not in SEVERITIES:
            raise ValueError(f'"{value}" is not one of {", ".join(SEVERITIES)}')
        return value


def _console() -> list[NotifierConfig]:
    return [ConsoleConfig(name="console", kind="console", format="text")]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MONITOR_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    store: StoreConfig = StoreConfig()
    events: EventsConfig = EventsConfig()
    rules_dir: Path | None = None
    sources: list[AnySourceConfig] = []
    http: HttpConfig = HttpConfig()
    notifiers: list[NotifierConfig] = Field(default_factory=_console)
    routes: list[RouteConfig] = []
    jitter: float = Field(default=0.1, ge=0, le=1)  # share of a source's interval
    outbox_interval: timedelta = timedelta(seconds=30)
    user_agent: str | None = None
    retention_days: int = Field(default=0, ge=0)  # unmatched articles older than this are deleted; 0: keep all
    # Not polling for longer than this (any source): the first polls' alerts go out as one catch-up message
    # per Slack and per-alert email notifier (docs/operations.md); "0s" sends them one by one.
    catch_up_after: timedelta = timedelta(hours=6)
    web: WebConfig = WebConfig()

    _outbox_interval = field_validator("outbox_interval", "catch_up_after", mode="before")(parse_duration)

    @field_validator("notifiers", mode="before")
    @classmethod
    def _console_by_default(cls, value: Any) -> Any:
        """A notifier without `kind` is a console one (as before notifiers had kinds)."""
        if isinstance(value, list):
            return [{"kind": "console", **item} if isinstance(item, Mapping) and "kind" not in item else item
                    for item in value]
        return value

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
                f'routes[{i}].{route._notify_key}: "{name}" is not a notifier defined in [[notifiers]]'
                for name in route.notify
                if name not in known
            ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def source(self, name: str) -> SourceConfig:
        return next(s for s in self.sources if s.name == name)

    def notifier(self, name: str) -> NotifierConfig:
        """The notifier called `name`, or a ConfigError listing the known ones."""
        for notifier in self.notifiers:
            if notifier.name == name:
                return notifier
        known = ", ".join(n.name for n in self.notifiers)
        raise ConfigError([f'no notifier is called "{name}" (known: {known})'])


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
    if isinstance(data.get("web"), Mapping) and "password" in data["web"]:
        raise ConfigError(["web.password: secrets are never read from the file; set MONITOR_WEB__PASSWORD"],
                          str(chosen))
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
    loc = _without_kind_tags(tuple(error["loc"]))
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    key = key.lstrip(".") or "config"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden" and loc and loc[-1] in _SECRET_KEYS:
        message = (f"secrets are never read from the file; put it in the environment variable named by "
                   f"{_SECRET_KEYS[str(loc[-1])]}")
    elif error["type"] == "extra_forbidden":
        message = "unknown key; check its spelling against config.example.toml"
    elif error["type"] == "missing":
        message = "missing; this key is required"
    elif error["type"] == "union_tag_invalid":
        tag, known = error["ctx"]["tag"], ", ".join(NOTIFIER_KINDS)
        key, message = f"{key}.kind", f'unknown notifier kind "{tag}" (known: {known})'
    elif error["type"] == "value_error" and (own := re.match(r"^([a-z_]+): (.*)$", message, re.S)):
        key, message = f"{key}.{own[1]}", own[2]  # a whole-section check names its key first
    if not error["loc"]:  # a whole-config check lists its own keys
        return message
    return f"{key}: {message}"


def _without_kind_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """`notifiers.0.slack.channel` → `notifiers.0.channel`: the kind a union member was chosen by is noise."""
    tags = (*NOTIFIER_KINDS, *SOURCE_CONFIGS)
    return tuple(p for i, p in enumerate(loc) if not (p in tags and i and isinstance(loc[i - 1], int)))
