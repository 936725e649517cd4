# The README's two commands: `make run` and `make test`. Both set up .venv first when it is missing or
# older than pyproject.toml, so they work on a fresh machine with only Python 3.11 installed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU build of PyTorch; an unpinned torch would pull a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: setup run test clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: setup
	$(BIN)/nas serve

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var .pytest_cache
