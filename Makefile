# Entry points of the project. `make demo` and `make test` set everything up on a fresh machine.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK := $(PY) -m vitals_stack
# Keep Spark's driver on loopback even when the hostname resolves elsewhere.
export SPARK_LOCAL_IP := 127.0.0.1

.PHONY: help images setup stack-jars stack-up stack-down stack-status stack-wipe seed demo test unit-test e2e-test clean

help:
	@echo "make demo          set up, start a fresh local stack, run the pipeline on embedded defaults"
	@echo "make test          set up, start the local stack, run every test, stop the stack"
	@echo "make unit-test     tests that need no running services"
	@echo "make stack-up | stack-down | stack-status | stack-wipe"
	@echo "make seed          load the embedded thresholds, roster and vitals into the running stack"

$(VENV)/.installed: pyproject.toml
	@command -v java >/dev/null || { echo "java not found: install OpenJDK 17 (apt-get install openjdk-17-jdk-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "mvn not found: install Maven (apt-get install maven)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed stack-jars
	bash scripts/install-system-packages.sh
	PYTHON=$(PY) bash scripts/install-k8s-tools.sh --images

stack-jars: $(VENV)/.installed
	$(STACK) fetch

stack-up: setup
	$(STACK) up

stack-down:
	@if [ -x $(PY) ]; then $(STACK) down; fi

stack-status: $(VENV)/.installed
	$(STACK) status

stack-wipe:
	@if [ -x $(PY) ]; then $(STACK) down --wipe; fi

seed: $(VENV)/.installed
	$(VENV)/bin/vitals-seed all

demo: setup
	$(STACK) down --wipe
	$(STACK) up
	$(PY) -m vitals_stack.demo

unit-test: $(VENV)/.installed
	$(PY) -m pytest -m "not stack and not images" services tests

# The stack is stopped whatever the tests return, and the tests' exit code is kept.
test: setup
	$(STACK) up || { $(STACK) down; exit 1; }
	$(PY) -m pytest services tests; status=$$?; $(STACK) down; exit $$status

images: $(VENV)/.installed stack-jars
	PYTHON=$(PY) bash scripts/build-images.sh

clean: stack-wipe
	rm -rf $(VENV) .cache
