"""Fixtures shared by the whole suite: personas, example files, a Postgres URL for cross-database
tests, the plans Postgres makes for named statements."""

import os
import secrets
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

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


def require_redis() -> str:
    """The Redis the suite may use; skip where none answers, but fail under CI."""
    import redis

    url = os.environ.get("REDIS_URL") or os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI and does not answer at {url}: {exc}")
        pytest.skip(f"no Redis at {url}: {exc}")
    return url


def pytest_configure(config):
    """The suite runs with DEBUG off, as production does, so it needs a secret key: a random one for
    this run, unless one is given. pytest-django loaded the settings before this conftest, so the
    key is set on them; the environment passes the same key to the processes tests start
    (manage.py commands, Celery workers)."""
    from django.conf import settings

    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    settings.SECRET_KEY = os.environ["SECRET_KEY"]
    # Property and schema tests draw new examples on every local run (to find what is new) but the
    # same ones under CI, so a landing never turns red on a draw; a failure found locally is kept
    # as an explicit example or a unit test.
    if os.environ.get("CI") == "true":
        from hypothesis import settings as hypothesis_settings

        hypothesis_settings.register_profile("ci", derandomize=True)
        hypothesis_settings.load_profile("ci")


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture
def plans_of():
    """A context manager collecting Postgres's plan (EXPLAIN, not run) of each statement whose SQL
    holds `text`, made in the statement's own transaction, so that its temp tables exist."""

    @contextmanager
    def collect(text: str):
        plans: list[str] = []

        def explained(execute, sql, params, many, context):
            if text in sql and not sql.startswith("EXPLAIN"):
                with connection.cursor() as cursor:
                    cursor.execute(f"EXPLAIN {sql}", params)
                    plans.append("\n".join(row[0] for row in cursor.fetchall()))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(explained):
            yield plans

    return collect


# --- Web tests: settings and personas -------------------------------------------------------


@pytest.fixture(autouse=True)
def _web_test_settings(settings):
    # The test client speaks plain HTTP, while the defaults (DEBUG off) redirect it to HTTPS;
    # tests/test_settings.py checks the production values through `check --deploy` instead.
    settings.SECURE_SSL_REDIRECT = False
    # Serve static files from the source folders (no collectstatic before a test run).
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    # Argon2 is slow on purpose; every persona fixture hashes seven demo passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def personas(db) -> dict:
    """The demo users of leadscoring.roles.DEMO_USERS by username, created as `manage.py demo_users` does."""
    from leadscoring.roles import demo_users_ensure

    return demo_users_ensure()


@pytest.fixture
def marketer(personas):
    return personas["marketer"]


@pytest.fixture
def saleslead(personas):
    return personas["saleslead"]


@pytest.fixture
def rep(personas):
    return personas["rep"]


@pytest.fixture
def manager(personas):
    return personas["manager"]


@pytest.fixture
def admin_user(personas):
    """The admin persona (replaces pytest-django's admin_user, so admin_client logs in as it)."""
    return personas["admin"]
