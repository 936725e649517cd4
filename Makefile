# The README's two commands: `make run` and `make test`. Both set up .venv first when it is missing or
# older than pyproject.toml or requirements.lock, so they work on a fresh machine with only Python 3.11
# installed, and install the versions the lock pins: what CI tested, not whatever is newest that day.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU build of PyTorch; an unpinned torch would pull a multi-GB CUDA build.
TORCH := torch==2.13.0
# Every dependency, the dev extra's and what they pull in, pinned: a constraints file (no extras).
LOCK := requirements.lock
# pip-tools lives in a throwaway venv of its own: it is how the lock is made, not a dependency.
LOCKENV := $(VENV)-lock

.PHONY: setup lock postgres chromium run test clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) $(TORCH)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

# Refresh the lock on purpose, from pyproject.toml's ranges: the pins already in it are kept where they
# still fit (a new dependency gets its newest version); `make lock UPGRADE=1` moves every pin to the
# newest its range allows. torch stays at $(TORCH), the CPU build (whose metadata names no CUDA
# packages). Then `make setup` installs it, and `make test` tests it.
lock:
	test -x $(LOCKENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCKENV) && \
	  $(LOCKENV)/bin/python -m pip install --quiet pip-tools; }
	echo '$(TORCH)+cpu' > $(LOCKENV)/torch.txt
	CUSTOM_COMPILE_COMMAND='make lock' $(LOCKENV)/bin/pip-compile --quiet --extra dev --strip-extras \
	  --allow-unsafe --no-emit-index-url --no-emit-find-links -c $(LOCKENV)/torch.txt \
	  $(if $(UPGRADE),--upgrade) --output-file $(LOCK) pyproject.toml
	! grep -in '^nvidia-' $(LOCK)

run: setup
	$(BIN)/nas serve

# The storage tests start a throwaway PostgreSQL cluster from the server binaries (initdb, pg_ctl);
# install them from Debian's packages when neither pg_config nor /usr/lib/postgresql has them.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	    { command -v pg_config >/dev/null 2>&1 && test -x "$$(pg_config --bindir)/initdb"; }; then :; else \
	  echo "installing the PostgreSQL server for the storage tests"; \
	  SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
	  $$SUDO apt-get update && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; \
	fi

# The browser tests (tests/e2e/test_dashboard.py) drive Debian's Chromium through Playwright
# (`playwright install` downloads a browser, which a machine without that CDN cannot); install it
# from Debian's packages when /usr/bin/chromium is missing (with a font, or screenshots show only boxes).
chromium:
	@if test -x /usr/bin/chromium; then :; else \
	  echo "installing Chromium for the browser tests"; \
	  SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
	  $$SUDO apt-get update && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-liberation; \
	fi

test: setup postgres chromium
	$(BIN)/python -m pytest --durations=15

clean:
	rm -rf $(VENV) $(LOCKENV) var .pytest_cache
