# The two commands of the README:
#   make quickstart   install, run the whole job on the bundled sample, then serve it
#   make test         install (if needed) and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1

.PHONY: install quickstart run serve test bench clean-store

install: $(VENV)/.installed

# torch first, pinned: an unpinned torch pulls gigabytes of CUDA wheels
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

quickstart: install run serve

run: install
	$(VENV)/bin/snapsearch run

serve: install
	$(VENV)/bin/snapsearch serve

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q

bench: install
	$(PY) -m eval bench
