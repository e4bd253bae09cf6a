# The series' commands. `make tutorial` and `make test` are the two the README starts with.
PYTHON3 ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.installed-dev

.PHONY: tutorial test lab workshop clean stop benchmarks moto-canary

$(VENV)/bin/python:
	@$(PYTHON3) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
	  "Python 3.11 or newer is needed; found " + sys.version.split()[0] + \
	  ". Install one and run: make PYTHON3=python3.12 ...")'
	$(PYTHON3) -m venv $(VENV)

$(INSTALLED): requirements.txt pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(DEV_INSTALLED): requirements-dev.txt $(INSTALLED)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

## tutorial: run every notebook in order on the local backend (executed copies in build/)
tutorial: $(INSTALLED)
	$(PY) -m helpers tutorial

## test: the whole test suite, on every core (installs the test tools first)
test: $(DEV_INSTALLED)
	$(PY) -m pytest -n auto --dist loadgroup

## lab: JupyterLab on the notebooks (LAB_DIR=build/workshop/student for the students' copies)
## LAB_IP=0.0.0.0 to reach it from outside a container; LAB_PORT, LAB_ARGS for anything else.
## As root (a plain container, a cloud VM) Jupyter refuses to start unless told --allow-root.
LAB_DIR ?= notebooks/
LAB_IP ?= 127.0.0.1
LAB_PORT ?= 8888
LAB_ARGS ?=
lab: $(INSTALLED)
	$(VENV)/bin/jupyter lab --ip=$(LAB_IP) --port=$(LAB_PORT) \
	  $$(if [ "$$(id -u)" = 0 ]; then echo --allow-root; fi) $(LAB_ARGS) $(LAB_DIR)

## workshop: student and instructor copies, the timing plan and a printable agenda
workshop: $(INSTALLED)
	$(PY) -m helpers workshop

## benchmarks: print the figures the issues ask for
benchmarks: $(INSTALLED)
	for script in benchmarks/[a-z]*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

## moto-canary: the local AWS's own tests against the newest moto, in a throwaway environment
## (build/moto-canary; pip's configured index). Not part of `make test` or CI: it says what a moto
## release would break before requirements.txt's pin moves.
CANARY := build/moto-canary
moto-canary:
	rm -rf $(CANARY)
	$(PYTHON3) -m venv $(CANARY)
	$(CANARY)/bin/python -m pip install --quiet -r requirements-dev.txt
	$(CANARY)/bin/python -m pip install --quiet --upgrade "moto[server]"
	@$(CANARY)/bin/python -c 'import moto; print("moto-canary: moto", moto.__version__, \
	  "(tested with 5.2.5: local_aws/moto_hooks)")'
	LOCAL_AWS_ALLOW_UNTESTED_MOTO=1 $(CANARY)/bin/python -m pytest tests/local_aws \
	  -p no:cacheprovider
	@echo "moto-canary: the local AWS's tests pass on the newest moto"

## stop: stop the local AWS
stop:
	@if [ -x $(PY) ]; then $(PY) -m helpers local stop; fi

## clean: stop the local AWS and remove everything generated (keeps .venv)
clean: stop
	rm -rf build .local-aws .pytest_cache
