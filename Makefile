# The two commands of the README:
#   make quickstart   install, run the whole job on the bundled sample, then serve it
#   make test         install (if needed) and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1

.PHONY: install quickstart run serve test browser bench clean-store

install: $(VENV)/.installed

# Everything: the server, the pipeline (extra `pipeline`) and the dev tools. torch first, pinned:
# an unpinned torch pulls gigabytes of CUDA wheels. TORCH_INDEX_URL points pip at a CPU-only wheel
# source, e.g. `make install TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu`; empty (the
# default), pip takes torch==2.13.0 from its usual index (here: the local CPU wheel).
# (`pip install .` alone installs only what serving needs: README, "Install".)
TORCH_VERSION ?= 2.13.0
TORCH_INDEX_URL ?=
TORCH_PIP_ARGS := $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(TORCH_PIP_ARGS) torch==$(TORCH_VERSION)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[pipeline,dev]'
	touch $@

quickstart: install run serve

run: install
	$(VENV)/bin/snapsearch run

serve: install
	$(VENV)/bin/snapsearch serve

# The search page's browser test drives Debian's chromium + chromium-driver (Selenium): installed
# here when missing and possible (root, or password-less sudo, with apt-get); otherwise that test
# is skipped and says why.
APT_INSTALL := env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif ! command -v apt-get >/dev/null; then \
	  echo "no chromium/chromedriver and no apt-get: the browser test will skip"; \
	else \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else echo "no chromium/chromedriver and no root to install them: the browser test will skip"; exit 0; fi; \
	  echo "installing chromium + chromium-driver for the browser test"; \
	  ($$SUDO apt-get update -qq && $$SUDO $(APT_INSTALL) >/dev/null) \
	    || echo "could not install chromium: the browser test will skip"; \
	fi

test: install browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q

bench: install
	$(PY) -m eval bench
