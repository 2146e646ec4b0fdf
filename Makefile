# Two commands on a fresh machine: `make run` and `make test`. Both set themselves up:
# a virtualenv in .venv, the exact pins of requirements.lock, migrations.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.lock | cut -c1-12)

.PHONY: install migrate run test lint browser-deps clean

$(STAMP): requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

# Serves http://127.0.0.1:8000 (daphne, ASGI) with a Celery worker and beat beside it, on the
# embedded defaults (SQLite, filesystem broker) unless DATABASE_URL / REDIS_URL are set. Ctrl-C stops all.
run: migrate
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py seed_demo
	$(PY) manage.py kb_ingest
	$(PY) manage.py annotation_demo
	$(PY) manage.py prompt_demo
	@echo ""
	@echo "MangaAssist Console: http://127.0.0.1:8000  (web + Celery worker + beat; press Ctrl-C to stop all)"
	@echo ""
	WHITENOISE_USE_FINDERS=0 $(VENV)/bin/honcho start -f Procfile

# Chromium for the browser tests comes from Debian's packages (Playwright's own download cannot work here).
browser-deps:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install chromium chromium-driver" >&2; exit 1; fi; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

# The whole suite, ruff lint and format check, the import layers (import-linter). pytest exits 5 when it collects no test: that fails too.
test: install browser-deps lint
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) var
