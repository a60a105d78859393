"""The golden examples through the project's own commands, on SQLite and on Postgres.

Given the example models, leads and events, when they go through import_model, import_leads,
import_events, rescore and export_scores, then every export line equals expected-scores.jsonl
(to the spec's rounding). The dry run `score_file` must give the same lines without a database.
"""

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT, require_postgres

TOLERANCE = 0.011


def manage(env, *args) -> str:
    # Never post to a shared broker: the filesystem queue lives beside the throwaway database.
    env = {k: v for k, v in env.items() if k != "REDIS_URL"}
    env.setdefault("LEADSCORING_VAR_DIR", str(Path(tempfile.gettempdir()) / "leadscoring-test-var"))
    proc = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"manage.py {' '.join(args)} failed:\n{proc.stderr[-3000:]}"
    return proc.stdout


def expected_lines():
    return [json.loads(line) for line in (EXAMPLES / "expected-scores.jsonl").read_text().splitlines() if line]


def differences(expected: dict, got: dict) -> list[str]:
    out = []
    for f in ("score", "fit", "engagement"):
        if abs(got[f] - expected[f]) > TOLERANCE:
            out.append(f"{f}: {got[f]} != {expected[f]}")
    for f in ("segment", "tier", "grade", "mql"):
        if got[f] != expected[f]:
            out.append(f"{f}: {got[f]!r} != {expected[f]!r}")
    g = [(x["type"], x["key"]) for x in got["breakdown"]]
    e = [(x["type"], x["key"]) for x in expected["breakdown"]]
    if g != e:
        out.append(f"breakdown lines {g} != {e}")
    for gx, ex in zip(got["breakdown"], expected["breakdown"], strict=False):
        if abs(gx["points"] - ex["points"]) > TOLERANCE or gx.get("count") != ex.get("count"):
            out.append(f"breakdown {ex['key']}: {gx} != {ex}")
        if ex["type"] == "criterion" and sorted(gx["events"]) != sorted(ex["events"]):
            out.append(f"breakdown {ex['key']} events: {gx['events']} != {ex['events']}")
    return out


def compare(lines: list[dict]) -> None:
    got = {(x["lead"], x["model"]): x for x in lines}
    problems = []
    for exp in expected_lines():
        line = got.get((exp["lead"], exp["model"]))
        if line is None:
            problems.append(f"{exp['model']} {exp['lead']}: missing")
            continue
        assert line["as_of"] == exp["as_of"]
        problems += [f"{exp['model']} {exp['lead']}: {d}" for d in differences(exp, line)]
    assert not problems, "\n".join(problems[:20])
    assert len(got) == len(expected_lines())


def run_pipeline(env, tmp_path) -> list[dict]:
    manage(env, "migrate", "--no-input", "-v", "0")
    for model in ("b2b-saas.json", "example-random.json"):
        manage(env, "import_model", str(EXAMPLES / model), "--publish")
    out = manage(env, "import_leads", str(EXAMPLES / "leads.jsonl"))
    assert "30 leads stored (30 new, 0 updated), 0 rows refused" in out
    out = manage(env, "import_events", str(EXAMPLES / "events.jsonl"))
    assert "216 events stored, 0 rows refused, 10 repeated ids ignored" in out
    manage(env, "rescore", "--as-of", (EXAMPLES / "as_of.txt").read_text().strip(), "--chunk-size", "7")
    target = tmp_path / "scores.jsonl"
    manage(env, "export_scores", "--format", "jsonl", "--output", str(target))
    return [json.loads(line) for line in target.read_text().splitlines() if line]


def test_golden_examples_on_sqlite(tmp_path):
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path}/golden.sqlite3")
    compare(run_pipeline(env, tmp_path))


def test_golden_examples_on_postgres(tmp_path):
    import psycopg

    base = require_postgres()
    name = f"golden_{uuid.uuid4().hex[:10]}"
    admin_url = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        env = dict(os.environ, DATABASE_URL=base.rsplit("/", 1)[0] + f"/{name}")
        compare(run_pipeline(env, tmp_path))
    finally:
        with psycopg.connect(admin_url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_dry_run_matches_golden_examples_without_a_database(tmp_path):
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path}/never-created.sqlite3")
    lines = []
    for model in ("b2b-saas.json", "example-random.json"):
        out = manage(
            env,
            "score_file",
            "--model",
            str(EXAMPLES / model),
            "--leads",
            str(EXAMPLES / "leads.jsonl"),
            "--events",
            str(EXAMPLES / "events.jsonl"),
            "--as-of",
            (EXAMPLES / "as_of.txt").read_text().strip(),
        )
        lines += [json.loads(line) for line in out.splitlines() if line]
    compare(lines)
    assert not (tmp_path / "never-created.sqlite3").exists() or (tmp_path / "never-created.sqlite3").stat().st_size == 0


@pytest.mark.parametrize("chunk", ["1", "1000"])
def test_chunk_size_does_not_change_scores(tmp_path, chunk):
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path}/chunks.sqlite3")
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "import_model", str(EXAMPLES / "b2b-saas.json"), "--publish")
    manage(env, "import_leads", str(EXAMPLES / "leads.jsonl"))
    manage(env, "import_events", str(EXAMPLES / "events.jsonl"))
    manage(env, "rescore", "--as-of", (EXAMPLES / "as_of.txt").read_text().strip(), "--chunk-size", chunk)
    out = manage(env, "export_scores", "--model", "new-business")
    got = [json.loads(line) for line in out.splitlines() if line]
    expected = [e for e in expected_lines() if e["model"] == "new-business"]
    assert [g["score"] for g in got] == [e["score"] for e in expected]
