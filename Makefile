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

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The EPUB test validates with epubcheck (Debian's package) and must not be skipped.
epubcheck:
	@command -v epubcheck >/dev/null 2>&1 || $(SUDO) env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q epubcheck >/dev/null || { $(SUDO) apt-get update -q >/dev/null && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q epubcheck >/dev/null; }

test: $(STAMP) epubcheck
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/bookgen generate --source examples/lighthouse.md --output-dir books --max-concurrent 4

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) books
