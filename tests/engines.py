"""The store's engines for tests: a SQLite file in a temp dir, and PostgreSQL when a server is configured.

`MONITOR_TEST_POSTGRES_URL` (e.g. postgresql+psycopg://monitor:monitor@127.0.0.1/monitor) names a
database the tests may create schemas in; each test gets a fresh schema, dropped afterwards. `.ci/run`
starts a server and sets it; without it the PostgreSQL cases skip and say so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

POSTGRES_VARIABLE = "MONITOR_TEST_POSTGRES_URL"
ENGINES = ("sqlite", "postgresql")


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_VARIABLE, "")
    if not url:
        pytest.skip(f"no PostgreSQL server configured: set {POSTGRES_VARIABLE} (as .ci/run does) to run this case")
    return url


@contextmanager
def fresh_schema(base: str) -> Iterator[str]:
    """A new, empty schema in the configured database, and a URL whose connections use it."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def store_url_for(engine: str, tmp_path: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{tmp_path / 'sub' / 'monitor.db'}"
        return
    with fresh_schema(postgres_url()) as url:
        yield url
