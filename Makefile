# The two commands of the README: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check --quiet

.PHONY: run real-data test setup worker check-python clean

# DEBUG is off unless set (config/settings.py); the local commands turn it on for themselves.
run real-data worker: export DEBUG ?= true
# Links in emails point at the port the site is served on, unless SITE_URL says otherwise.
run real-data: export SITE_URL ?= http://127.0.0.1:$(PORT)

## run: create the virtualenv, install, migrate, load the demo data, its demo editor and a first snapshot, serve on 127.0.0.1:$(PORT)
run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py demo_editor
	$(PY) manage.py export_dataset --if-none --verbosity 0
	@echo "Serving on http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

## real-data: like run (demo editor, first snapshot), with the real AIAAIC 2024 data (1,670 incidents) in a database of its own
real-data: setup
	DATABASE_URL=$${DATABASE_URL:-sqlite:///db-real.sqlite3} $(PY) manage.py migrate --noinput
	DATABASE_URL=$${DATABASE_URL:-sqlite:///db-real.sqlite3} $(PY) manage.py load_real_data
	DATABASE_URL=$${DATABASE_URL:-sqlite:///db-real.sqlite3} $(PY) manage.py demo_editor
	DATABASE_URL=$${DATABASE_URL:-sqlite:///db-real.sqlite3} $(PY) manage.py export_dataset --if-none --verbosity 0
	@echo "Serving the real data on http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	DATABASE_URL=$${DATABASE_URL:-sqlite:///db-real.sqlite3} $(PY) manage.py runserver 127.0.0.1:$(PORT)

## test: install the test tools, start the services the tests use, lint, run every test
test: $(VENV)/.installed-dev
	scripts/test

## worker: a Celery worker with beat (link checks, nightly snapshots) against REDIS_URL or CELERY_BROKER_URL
worker: setup
	@if [ -z "$${CELERY_BROKER_URL:-$${REDIS_URL:-}}" ]; then \
	  echo "No broker configured: set REDIS_URL (e.g. REDIS_URL=redis://127.0.0.1:6379/0 make worker)." >&2; \
	  echo "Without one, background tasks run in-process and no worker is needed." >&2; \
	  exit 1; \
	fi
	$(PY) manage.py migrate --noinput
	$(VENV)/bin/celery -A config worker --beat --schedule $(VENV)/celerybeat-schedule --loglevel INFO

setup: $(VENV)/.installed

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11")'

$(PY): | check-python
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file changes.
$(VENV)/.installed: requirements.txt | $(PY)
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) -r requirements-dev.txt
	touch $(VENV)/.installed $@

clean:
	rm -rf $(VENV) db.sqlite3 db-real.sqlite3 staticfiles .pytest_cache .ruff_cache
