"""Every setting and every command is documented: an undocumented one fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices, BaseModel

from monitor.cli import _parser
from monitor.config import (
    NOTIFIER_CONFIGS,
    SOURCE_CONFIGS,
    EventsConfig,
    HttpConfig,
    RouteConfig,
    Settings,
    StoreConfig,
    WebConfig,
)

ROOT = Path(__file__).parents[1]
CONFIG_DOC = (ROOT / "docs" / "configuration.md").read_text()
README = (ROOT / "README.md").read_text()


MODELS: tuple[type[BaseModel], ...] = (Settings, StoreConfig, EventsConfig, *SOURCE_CONFIGS.values(), HttpConfig,
                                       *NOTIFIER_CONFIGS, RouteConfig,
                                       WebConfig)


def keys(model: type[BaseModel]) -> list[str]:
    found = []
    for name, field in model.model_fields.items():
        found.append(field.alias or name)
        if isinstance(field.validation_alias, AliasChoices):  # an old name still accepted
            found += [str(c) for c in field.validation_alias.choices if c != name]
    return found


@pytest.mark.parametrize("key", [f"{m.__name__}.{k}" for m in MODELS for k in keys(m)])
def test_every_config_key_is_documented(key: str) -> None:
    name = key.split(".")[1]
    assert f"`{name}`" in CONFIG_DOC or f"[{name}]" in CONFIG_DOC, f"{key} is not in docs/configuration.md"


def commands() -> list[str]:
    found = []
    parser = _parser()
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
            found += [f"{name} {n}" for a in nested for n in a.choices] if nested else [name]
    return found


@pytest.mark.parametrize("command", commands())
def test_every_command_is_in_the_readme(command: str) -> None:
    assert re.search(rf"`monitor {command}\b", README), f"monitor {command} is not in README.md"


def test_the_readme_opens_with_the_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    assert "pip install -e ." in blocks[0] and "monitor run" in blocks[0]
    assert "pip install -e '.[test]'" in blocks[1] and "pytest" in blocks[1]
