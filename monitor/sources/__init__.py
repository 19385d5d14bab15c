"""Source kinds by name: each kind is a `parse(FetchResult, SourceConfig) -> Parsed` function.

Built-in kinds register themselves through `register`, the same call a third-party kind uses, so
there is one way in and `monitor.sources` holds no special cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from monitor.config import SourceConfig
from monitor.errors import ConfigError
from monitor.models import Article, FetchResult, Parsed

Parser = Callable[[FetchResult, SourceConfig], Parsed]
# A list kind's articles are a whole list, diffed against the last snapshot; this words one change
# ("new", "changed" or "removed") of an entry as the article rules see.
Announcer = Callable[[Article, str, SourceConfig], Article]


def source_address(source: SourceConfig) -> str:
    return source.url


@dataclass(frozen=True)
class Kind:
    """What the pipeline needs to know of a kind besides its parser; the defaults fit a feed."""

    parse: Parser
    address: Callable[[SourceConfig], str] = source_address  # the URL one poll fetches
    announce: Announcer | None = None  # set for list kinds: articles are diffed snapshots
    host_interval: float | None = None  # seconds between requests its host asks for (GDELT: 5)


_KINDS: dict[str, Kind] = {}


def register(
    kind: str, parser: Parser, *, address: Callable[[SourceConfig], str] | None = None,
    announce: Announcer | None = None, host_interval: float | None = None,
) -> None:
    """Make `kind` usable in `[[sources]] kind = "…"`.

    Registering the same parser twice is harmless (a module imported again); taking over a kind
    that another parser holds is refused, so two plugins cannot silently shadow each other.
    """
    if not kind or kind != kind.strip():
        raise ValueError(f"source kind {kind!r} must be a non-empty name without surrounding spaces")
    current = _KINDS.get(kind)
    if current is not None and current.parse is not parser:
        raise ValueError(f'source kind "{kind}" is already registered to {_name_of(current.parse)}')
    _KINDS[kind] = Kind(parser, address or source_address, announce, host_interval)


def kind_of(name: str) -> Kind:
    """The kind registered as `name`; unknown, a ConfigError that names the known ones."""
    try:
        return _KINDS[name]
    except KeyError:
        known = ", ".join(known_kinds()) or "none"
        raise ConfigError([f'unknown source kind "{name}" (known: {known})']) from None


def parser_for(kind: str) -> Parser:
    return kind_of(kind).parse


def known_kinds() -> tuple[str, ...]:
    return tuple(sorted(_KINDS))


def _name_of(parser: Parser) -> str:
    module = getattr(parser, "__module__", None) or "?"
    return f"{module}.{getattr(parser, '__qualname__', repr(parser))}"


# Built-in kinds, registered by importing them (last, since they import `register` from here).
from monitor.sources import gdelt as gdelt  # noqa: E402
from monitor.sources import html as html  # noqa: E402
from monitor.sources import rss as rss  # noqa: E402
from monitor.sources import sanctions as sanctions  # noqa: E402
from monitor.sources import telegram as telegram  # noqa: E402
