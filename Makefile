# The two commands of README.md: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test demo bench lint check venv sandbox clean

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=python3.x)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

venv: $(STAMP)

## run: the main job on the embedded default (SQLite, filesystem broker, bundled Odoo sandbox)
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runstack

## demo: the one-shot demo on a fresh temporary directory (DEMO_EXPENSES=300); last line is JSON
demo: $(STAMP)
	$(PY) -m controlplane.demo

## bench: the benchmark suite, figures side by side (BENCH_QUICK=1 for a short smoke run)
bench: $(STAMP)
	$(PY) -m bench.run

## sandbox: the Odoo sandbox alone on :8069 (state in var/odoo-sandbox.sqlite3)
sandbox: $(STAMP)
	$(PY) -m integrations.odoo.sandbox --host 127.0.0.1 --port 8069 --db-path var/odoo-sandbox.sqlite3

## test: the whole test suite (SQLite and the embedded broker unless DATABASE_URL / CELERY_BROKER_URL say otherwise)
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

check: $(STAMP)
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf var/ .pytest_cache .ruff_cache
