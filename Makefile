# Needs only Python 3 (with the venv module) and network access to PyPI.
PYTHON ?= python3
DEMO_VENV := .venv-demo
TOX_VENV := .venv-tox
BENCH_VENV := .venv-bench
FUZZ_VENV := .venv-fuzz
DEMO_ADDR ?= 127.0.0.1:8000
TOXARGS ?=

.PHONY: demo test bench fuzz

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

$(BENCH_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e . \
		djangorestframework-simplejwt gunicorn matplotlib drf-spectacular
	touch $@

# Every benchmark in one run (about 10 minutes; BENCHARGS=--quick for 2): medians, ratios against
# baselines of the same run and the targets; rewrites the table and plot in docs/performance.rst.
# The gunicorn part needs wrk (apt-get install wrk).
bench: $(BENCH_VENV)/.installed
	@command -v wrk >/dev/null || { echo "make bench needs wrk on PATH (apt-get install wrk)" >&2; exit 1; }
	$(BENCH_VENV)/bin/python bench/run_all.py --write-docs $(BENCHARGS)

$(FUZZ_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e . atheris
	touch $@

# The atheris fuzz campaigns (docs/fuzzing.rst): FUZZ="xfcc 1000000" runs one harness for a
# million executions; the default is every harness for 10 million each, one after another.
FUZZ ?= all 10000000
fuzz: $(FUZZ_VENV)/.installed
	FUZZ_PYTHON=$(CURDIR)/$(FUZZ_VENV)/bin/python sh fuzz/run.sh $(FUZZ)
