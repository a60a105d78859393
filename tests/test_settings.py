"""Settings come from the environment: typed readers, the embedded default, the production check."""

import importlib.util
import os
import secrets
import subprocess
import sys

import pytest

from leadscoring.env import EnvError, envbool, envint, envlist, envstr
from tests.conftest import ROOT

# Variables that would change what the settings module computes below.
SETTINGS_VARS = [
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
]


@pytest.mark.parametrize("raw", ["1", "true", "YES", " on "])
def test_envbool_reads_true(monkeypatch, raw):
    monkeypatch.setenv("FLAG", raw)
    assert envbool("FLAG") is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "off", ""])
def test_envbool_reads_false(monkeypatch, raw):
    monkeypatch.setenv("FLAG", raw)
    assert envbool("FLAG", True) is False


def test_envbool_unset_gives_the_default(monkeypatch):
    monkeypatch.delenv("FLAG", raising=False)
    assert envbool("FLAG", True) is True


def test_envbool_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(EnvError, match="FLAG.*'maybe'"):
        envbool("FLAG")


def test_envint_reads_and_defaults(monkeypatch):
    monkeypatch.setenv("SIZE", "42")
    assert envint("SIZE", 7) == 42
    monkeypatch.setenv("SIZE", " ")
    assert envint("SIZE", 7) == 7
    monkeypatch.delenv("SIZE")
    assert envint("SIZE", 7) == 7


def test_envint_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("SIZE", "12k")
    with pytest.raises(EnvError, match="SIZE.*'12k'"):
        envint("SIZE", 7)


def test_envlist_splits_and_trims(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example, b.example ,,")
    assert envlist("HOSTS", ["x"]) == ["a.example", "b.example"]
    monkeypatch.delenv("HOSTS")
    assert envlist("HOSTS", ["x"]) == ["x"]


def test_envstr_default(monkeypatch):
    monkeypatch.delenv("NAME_OF_THING", raising=False)
    assert envstr("NAME_OF_THING", "d") == "d"


def settings_with(monkeypatch, tmp_path, **env) -> dict:
    """Given these variables only, when the settings module runs, then its globals."""
    for name in SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEADSCORING_VAR_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # A fresh copy of the module: the settings Django runs with stay as they are.
    spec = importlib.util.spec_from_file_location("leadscoring.settings_copy", ROOT / "leadscoring" / "settings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return vars(module)


def test_database_defaults_to_sqlite_in_the_var_dir(monkeypatch, tmp_path):
    s = settings_with(monkeypatch, tmp_path)
    db = s["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(tmp_path / "db.sqlite3")


def test_database_url_selects_postgres(monkeypatch, tmp_path):
    # With Redis named: no broker folder is made for this database.
    s = settings_with(
        monkeypatch, tmp_path, DATABASE_URL="postgres://u:p@db.example:5433/ls", REDIS_URL="redis://127.0.0.1:6379/15"
    )
    db = s["DATABASES"]["default"]
    assert (db["ENGINE"], db["HOST"], db["PORT"], db["NAME"]) == (
        "django.db.backends.postgresql",
        "db.example",
        5433,
        "ls",
    )


def test_bad_debug_value_stops_the_settings(monkeypatch, tmp_path):
    with pytest.raises(EnvError, match="DEBUG"):
        settings_with(monkeypatch, tmp_path, DEBUG="sometimes")


def test_no_secret_key_with_debug_off_leaves_the_key_empty(monkeypatch, tmp_path):
    # Given DEBUG off and no SECRET_KEY, then the settings hold no key at all (never the demo key),
    # and Django refuses to use an empty one.
    s = settings_with(monkeypatch, tmp_path)
    assert s["DEBUG"] is False and s["SECRET_KEY"] == ""


def test_the_demo_key_is_only_for_debug(monkeypatch, tmp_path):
    s = settings_with(monkeypatch, tmp_path, DEBUG="1")
    assert s["SECRET_KEY"].startswith("django-insecure-demo-key")


def test_production_defaults_are_secure(monkeypatch, tmp_path):
    s = settings_with(monkeypatch, tmp_path, SECRET_KEY=secrets.token_urlsafe(50))
    assert s["DEBUG"] is False
    assert s["SECURE_SSL_REDIRECT"] and s["SESSION_COOKIE_SECURE"] and s["CSRF_COOKIE_SECURE"]
    assert s["SECURE_HSTS_SECONDS"] >= 31536000


def run_django(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`python ARGS` in a fresh process with only these settings variables (DEBUG off by default).

    A production process has none of the test run's own switches (the browser tests allow
    Django's async-unsafe calls for the whole session, which the deploy check rightly refuses)."""
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS and k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean.update({"LEADSCORING_VAR_DIR": str(tmp_path), "DEBUG": "0", "ALLOWED_HOSTS": "example.com", **env})
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def deploy_check(tmp_path, **env) -> subprocess.CompletedProcess:
    return run_django(tmp_path, "manage.py", "check", "--deploy", "--fail-level", "WARNING", **env)


# What gunicorn does first (and `runserver`, which serves the same WSGI_APPLICATION).
LOAD_THE_SERVER = ["-c", "from leadscoring.wsgi import application"]


def test_deploy_check_passes_with_production_environment(tmp_path):
    proc = deploy_check(tmp_path, SECRET_KEY=secrets.token_urlsafe(50))
    assert proc.returncode == 0, proc.stderr
    assert "System check identified no issues" in proc.stdout
    assert "WARNING" not in proc.stderr


def test_deploy_check_fails_without_a_secret_key(tmp_path):
    proc = deploy_check(tmp_path)
    assert proc.returncode != 0
    assert "leadscoring.E001" in proc.stderr
    assert "SECRET_KEY is not set and DEBUG is off" in proc.stderr


def test_server_refuses_to_start_without_a_secret_key(tmp_path):
    # Given DEBUG off and no SECRET_KEY, when gunicorn loads the application, then it stops with the reason.
    proc = run_django(tmp_path, *LOAD_THE_SERVER)
    assert proc.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set and DEBUG is off" in proc.stderr


def test_runserver_refuses_to_start_without_a_secret_key(tmp_path):
    # Without the refusal the server would start serving and the process would not end by itself.
    proc = run_django(tmp_path, "manage.py", "runserver", "--noreload", "127.0.0.1:0")
    assert proc.returncode != 0
    assert "SECRET_KEY is not set and DEBUG is off" in proc.stderr


def test_debug_runs_without_a_secret_key(tmp_path):
    # Given DEBUG=1 (`make demo`), then Django starts and the application loads with the demo key.
    assert run_django(tmp_path, "manage.py", "check", DEBUG="1").returncode == 0
    proc = run_django(tmp_path, *LOAD_THE_SERVER, DEBUG="1")
    assert proc.returncode == 0, proc.stderr


def test_command_line_tools_run_without_a_secret_key(tmp_path):
    # Given DEBUG off and no key, then the commands that sign nothing still run (a fresh
    # machine's migrate and imports, as ../shared/tools/check-examples runs them).
    proc = run_django(tmp_path, "manage.py", "migrate", "--no-input", "-v", "0")
    assert proc.returncode == 0, proc.stderr
    proc = run_django(
        tmp_path, "manage.py", "import_leads", str(ROOT / "tests" / "fixtures" / "examples" / "leads.jsonl")
    )
    assert proc.returncode == 0, proc.stderr
