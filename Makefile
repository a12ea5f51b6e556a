# Atelier — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
BUNDLE := web/static/build/chat.js

.PHONY: run test lint fmt install assets clean

run: install assets ## migrate, load the demo assembly if empty, serve on 127.0.0.1:8000
	$(VENV)/bin/atelier run --demo

test: install assets lint ## lint, then the whole suite (SQLite; PostgreSQL/Redis when configured)
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The load benchmark (bench/, docs/performance.md): Atelier against a raw websockets
# broadcast server, on SQLite and on PostgreSQL + Redis (1 and 2 processes). About 20 min;
# the first run also seeds var/bench/ (about a minute). bench-quick: tiny sizes, about 3 min.
.PHONY: bench bench-quick

bench: install node_modules/.installed
	$(PY) -m bench

bench-quick: install node_modules/.installed
	$(PY) -m bench --quick --no-doc

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ requis"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

assets: $(BUNDLE)

$(BUNDLE): node_modules/.installed $(wildcard web/src/*.js)
	npm run --silent build

clean:
	rm -rf $(VENV) node_modules web/static/build var test-artifacts
