# Citeline: `make run` sets up and serves; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARTICLES ?= ../shared/corpus
INDEX ?= var/index
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run ingest serve test lint bench clean browser

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

ingest: install
	$(BIN)/citeline ingest $(ARTICLES) --index $(INDEX)

serve: install
	$(BIN)/citeline serve --index $(INDEX) --host $(HOST) --port $(PORT)

run: ingest serve

# Debian's chromium for the browser tests (Playwright's own download fails offline).
browser:
	bash .ci/install-browser.sh

test: install browser
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy citeline index ingest server

bench: install
	$(BIN)/python bench/ingest_and_latency.py

clean:
	rm -rf $(VENV) var .pytest_cache
