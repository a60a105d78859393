# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo serve test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo --if-empty
	$(MAKE) --no-print-directory serve

# The web server in the foreground; one Celery worker with embedded beat in the background
# (the embedded default feeds it through a folder, so no Redis is needed).
serve:
	@mkdir -p var
	@set -e; \
	DEBUG=1 $(VENV)/bin/celery -A leadscoring worker -B -Q default,rescore,ingest,alerts --concurrency 2 \
	  --loglevel INFO --schedule var/celerybeat-schedule > var/worker.log 2>&1 & \
	worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	echo "Celery worker (pid $$worker) logs to var/worker.log"; \
	echo "Open http://$(HOST):$(PORT)/ (logins in README.md)"; \
	DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

# Postgres at $$BENCH_DATABASE_URL (default: 127.0.0.1, database leadscoring_bench); see docs/performance.md.
# benchmarks/demo.py: the demo's slow actions on a fresh `seed_demo` SQLite file (DEMO_ARGS=--repeat 5).
bench: install
	$(PY) benchmarks/run.py $(BENCH_ARGS)
	$(PY) benchmarks/ingest.py $(INGEST_ARGS)
	$(PY) benchmarks/pages.py
	$(PY) benchmarks/demo.py $(DEMO_ARGS)

clean:
	rm -rf var .pytest_cache .ruff_cache .hypothesis
