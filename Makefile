# Two commands that work on a fresh clone: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test check lint format bench clean install

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

# Reinstall when the project's dependency list changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/cds-service serve --host $(HOST) --port $(PORT)

test: install
	$(PY) -m pytest

# The inner loop: everything but the tests marked slow (load, kill, outage, faults, fuzzing,
# whole-data replays), about a minute on 2 cores. `make test` (and CI) runs them all.
check: install
	$(PY) -m pytest -m "not slow" -q

# Style, types and layering: ruff, mypy --strict on the package, import-linter contracts
# (pyproject.toml). CI runs it before the tests.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Performance benchmarks (issue 7): ~10 minutes, results in docs/benchmarks.md. Not part of `make test`.
bench: install
	$(PY) -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
