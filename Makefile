# One command each: `make test` and `make demo` work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo lint typecheck install clean epubcheck

# apt-get needs root; elsewhere sudo asks.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The `local` extra brings llama-cpp-python, which pip builds from source the first
# time (about 12 minutes on 2 cores; later installs take it from pip's cache).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -c "import llama_cpp" 2>/dev/null || \
		echo "installing llama-cpp-python: the first build from source takes about 12 minutes on 2 cores"
	$(BIN)/python -m pip install --quiet -e ".[dev,local]"
	touch $(STAMP)

install: $(STAMP)

# The EPUB test validates with epubcheck (Debian's package) and must not be skipped.
epubcheck:
	@command -v epubcheck >/dev/null 2>&1 || $(SUDO) env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q epubcheck >/dev/null || { $(SUDO) apt-get update -q >/dev/null && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q epubcheck >/dev/null; }

test: $(STAMP) epubcheck
	$(BIN)/python -m pytest -q

# The bundled example book, written by the embedded SmolLM2 model: no key, no network.
demo: $(STAMP)
	$(BIN)/bookgen generate --source examples/lighthouse.md --output-dir books --max-concurrent 2

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) books
