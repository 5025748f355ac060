# The README's commands: `make dev` starts the local stack, `make test` installs and checks all.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
SAM_VENV ?= .venv-sam
BIN := $(VENV)/bin
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: dev test lint typecheck unit integration e2e build validate deploy-dev deploy-prod clean

$(VENV)/.installed: requirements-dev.txt layers/shared/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

include mk/sam.mk

## dev: start moto + the API gateway + demo tenant locally; Ctrl-C stops it
## (DEVSTACK_ARGS="--free-ports" lets the system pick every port)
dev: $(VENV)/.installed
	$(BIN)/python -m devstack $(DEVSTACK_ARGS)

## test: lint, types, unit + integration + e2e tests, template checks and a Docker-free sam build
test: lint typecheck unit integration e2e validate build

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy layers/shared/payments

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit

integration: $(VENV)/.installed
	$(BIN)/pytest tests/integration

e2e: $(VENV)/.installed
	$(BIN)/pytest tests/e2e

validate: sam-validate cfn-lint

build: sam-build

deploy-dev: build
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam deploy --config-env default

deploy-prod: build
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam deploy --config-env prod

clean:
	rm -rf .aws-sam .devstack .mypy_cache .ruff_cache
