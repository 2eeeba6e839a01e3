# UCAN Explorer — two commands: `make run` (install what is missing, start the app) and
# `make test` (install what is missing, Debian Chromium included, then `ruff check .` and the
# whole suite).

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8501
HEADLESS ?= true
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install install-test chromium run test bench clean

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 needed"'
	$(PYTHON) -m venv $(VENV)

# Stamps make both installs idempotent: they rerun only when the pins or the packaging change.
$(VENV)/.installed: requirements.txt pyproject.toml setup.py | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --disable-pip-version-check -q -c requirements.txt -e ".[test,ray]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test chromium

# Browser tests drive Debian's Chromium through Playwright (no browser download).
chromium:
	@command -v chromium >/dev/null || { \
	  echo "Installing Debian chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

run: install
	$(VENV)/bin/streamlit run app/main.py --server.address $(HOST) --server.port $(PORT) \
	  --server.headless $(HEADLESS) --browser.gatherUsageStats false \
	  --server.fileWatcherType none

# Lint first (rule set and reasons: pyproject.toml [tool.ruff.lint]), then the tests.
test: install-test
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/certify_throughput.py
	$(PY) benchmarks/universal_radius.py
	$(PY) benchmarks/app_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build
