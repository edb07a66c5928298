# opskit — every target installs what it needs first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
DEMO   ?= build/demo

.PHONY: install demo test lint lab browser airflow bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "opskit: could not create a virtual environment; on Debian run: sudo apt-get install python3-venv" >&2; exit 2; }
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/opskit sandbox demo-data --out $(DEMO)
	$(BIN)/opskit sandbox tour --data $(DEMO)/tenant.yaml
	$(BIN)/python -m opskit.demo --data $(DEMO)/tenant.yaml --out $(DEMO)/reports

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# compileall: every kernel and `opskit run` process of the suite imports opskit; compiled once
# here, not in each of them where PYTHONDONTWRITEBYTECODE is set (uv compiles only the deps).
# While mypy checks on one core, a collection on the other writes pytest's assert-rewritten test
# modules (tests/conftest.py says why): each worker then reads them instead of rewriting them
# all, ~4 s of CPU apiece on a fresh clone.
test: install
	$(BIN)/ruff check .
	$(BIN)/python -m compileall -q opskit
	$(BIN)/python -m pytest --collect-only -q -n0 > /dev/null 2>&1 & $(BIN)/mypy; \
	  checked=$$?; wait; exit $$checked
	$(BIN)/python -m pytest -q

# Kernels start in opskit/notebooks/ and find the checkout's opskit.toml above it; jupyter
# refuses to run as root unless told.
lab: install
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) opskit/notebooks/

# The browser tests drive Debian's Chromium (Playwright never downloads one here); without it
# they are skipped, saying so, unless OPSKIT_REQUIRE_BROWSER=1 (as CI sets it).
# Chromium for the browser tests, and a colour emoji font so the reports' markers (🔑) show in
# its screenshots as they do on a desktop.
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
browser:
	@test -x /usr/bin/chromium -a -f $(EMOJI_FONT) || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  chromium fonts-noto-color-emoji; } || { echo "opskit: could not install chromium; as root" \
	  "run: apt-get install chromium fonts-noto-color-emoji" >&2; exit 2; }

# Apache Airflow in a virtual environment of its own (its pins conflict with Jupyter's), with
# opskit beside it (no dev extra), and its database migrated once: tests/test_airflow.py copies
# that one instead of migrating its own. Without it that test is skipped, saying so, unless
# OPSKIT_REQUIRE_AIRFLOW=1 (as CI sets it).
AIRFLOW_VENV  := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
airflow: $(AIRFLOW_STAMP)
$(AIRFLOW_STAMP): pyproject.toml
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	@test -x $(AIRFLOW_VENV)/bin/uv || $(AIRFLOW_VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv
	$(AIRFLOW_VENV)/bin/uv pip install --quiet --python $(AIRFLOW_VENV)/bin/python --compile-bytecode \
	  'apache-airflow==3.1.*' -e .
	rm -rf $(AIRFLOW_VENV)/home
	AIRFLOW_HOME=$(CURDIR)/$(AIRFLOW_VENV)/home AIRFLOW__CORE__LOAD_EXAMPLES=False \
	  $(AIRFLOW_VENV)/bin/airflow db migrate > $(AIRFLOW_VENV)/migrate.log 2>&1 || { \
	  cat $(AIRFLOW_VENV)/migrate.log >&2; exit 2; }
	@touch $(AIRFLOW_STAMP)

bench: install
	$(BIN)/python benchmarks/sandbox.py
	$(BIN)/python benchmarks/pipeline.py

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) build out .pytest_cache .ruff_cache .mypy_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
