"""Source kinds by name: each kind is a `parse(FetchResult, SourceConfig) -> Parsed` function.

Built-in kinds register themselves through `register`, the same call a third-party kind uses, so
there is one way in and `monitor.sources` holds no special cases.
"""

from __future__ import annotations

from collections.abc import Callable

from monitor.config import SourceConfig
from monitor.errors import ConfigError
from monitor.models import FetchResult, Parsed

Parser = Callable[[FetchResult, SourceConfig], Parsed]

_PARSERS: dict[str, Parser] = {}


def register(kind: str, parser: Parser) -> None:
    """Make `kind` usable in `[[sources]] kind = "…"`.

    Registering the same parser twice is harmless (a module imported again); taking over a kind
    that another parser holds is refused, so two plugins cannot silently shadow each other.
    """
    if not kind or kind != kind.strip():
        raise ValueError(f"source kind {kind!r} must be a non-empty name without surrounding spaces")
    current = _PARSERS.get(kind)
    if current is not None and current is not parser:
        raise ValueError(f'source kind "{kind}" is already registered to {_name_of(current)}')
    _PARSERS[kind] = parser


def parser_for(kind: str) -> Parser:
    try:
        return _PARSERS[kind]
    except KeyError:
        known = ", ".join(known_kinds()) or "none"
        raise ConfigError([f'unknown source kind "{kind}" (known: {known})']) from None


def known_kinds() -> tuple[str, ...]:
    return tuple(sorted(_PARSERS))


def _name_of(parser: Parser) -> str:
    module = getattr(parser, "__module__", None) or "?"
    return f"{module}.{getattr(parser, '__qualname__', repr(parser))}"


# Built-in kinds, registered by importing them (last, since they import `register` from here).
from monitor.sources import rss as rss  # noqa: E402
