# Needs only Python 3 (with the venv module) and network access to PyPI.
PYTHON ?= python3
DEMO_VENV := .venv-demo
TOX_VENV := .venv-tox
DEMO_ADDR ?= 127.0.0.1:8000
TOXARGS ?=

.PHONY: demo test

$(DEMO_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(TOX_VENV)/.installed:
	$(PYTHON) -m venv $(TOX_VENV)
	$(TOX_VENV)/bin/python -m pip install --quiet --disable-pip-version-check tox
	touch $@

# Serve the example project on $(DEMO_ADDR) (a loopback address): its issuer, the printed curls
# and the admin URL all follow it. Prints curl commands with fresh tokens and the admin login.
demo: $(DEMO_VENV)/.installed
	BG_DEMO_ADDR=$(DEMO_ADDR) $(DEMO_VENV)/bin/python -u example_project/manage.py rundemo

# Interpreters installed with pyenv (python3.10 ... python3.13) are made visible to tox, after PATH.
PYENV_BINS := $(wildcard $(HOME)/.pyenv/versions/3.1*/bin)
TOX_PATH := $(subst $(eval) ,:,$(strip $(PATH) $(PYENV_BINS)))

# Run the tox environments (pass options with TOXARGS, e.g. make test TOXARGS="-e py312").
test: $(TOX_VENV)/.installed
	PATH="$(TOX_PATH)" $(TOX_VENV)/bin/tox $(TOXARGS)
