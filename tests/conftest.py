"""Fixtures shared by the whole suite: personas, example files, a Postgres URL for cross-database tests."""

import os
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent / "fixtures" / "examples"
ROOT = Path(__file__).resolve().parent.parent


def postgres_url() -> str:
    """Where the cross-database tests find Postgres (the CI database, or the local default)."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        return url
    return os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def require_postgres() -> str:
    """Skip where no Postgres answers; under CI that is a failure, never a skip."""
    import psycopg

    url = postgres_url()
    try:
        psycopg.connect(url.replace("postgres://", "postgresql://"), connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Postgres is required under CI and does not answer at {url}: {exc}")
        pytest.skip(f"no Postgres at {url}: {exc}")
    return url


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
