# Curio: `make run` (service + demo data on SQLite, no Redis) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export DEBUG ?= 1
# The settings read SECRET_KEY from the environment, else from var/secret_key (there is no built-in key).
KEY_FILE := var/secret_key

.PHONY: run test install lint clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

# A random key, written once (mode 600) and kept: sessions and the demo token survive a restart.
$(KEY_FILE):
	mkdir -p $(@D)
	umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@.tmp && mv $@.tmp $@

run: install $(KEY_FILE)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py demo --train   # loads the demo shop once (a rerun skips), trains unless a model is active
	@printf '\n  Storefront  http://$(HOST):$(PORT)/\n  Admin       http://$(HOST):$(PORT)/admin/\n  API docs    http://$(HOST):$(PORT)/api/docs/\n\n'
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf var staticfiles db.sqlite3*
