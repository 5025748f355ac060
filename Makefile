# The README's commands: `make dev` starts the local stack, `make test` installs and checks all.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
SAM_VENV ?= .venv-sam
CHECKOV_VENV ?= .venv-checkov
BIN := $(VENV)/bin
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: dev test lint typecheck unit integration e2e build validate checkov openapi bench deploy-dev deploy-prod clean

# pip stays quiet (readable `make test` logs); each step says what it installs and how long it
# takes, so a first `make dev` is not minutes of silence.
$(VENV)/.installed: requirements-dev.txt layers/shared/requirements.txt pyproject.toml
	@test -x $(BIN)/python || echo "==> Creating the virtualenv $(VENV) (a few seconds)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> Installing the pinned packages of requirements-dev.txt into $(VENV): boto3, moto,"
	@echo "    Powertools, pydantic, pynamodb, stripe, pytest, ruff, mypy, playwright... (first run:"
	@echo "    about 1 to 3 minutes, depending on the network; later only after a requirements change)"
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@echo "==> Installing this repository into $(VENV) as an editable package (a few seconds)"
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@echo "==> $(VENV) is ready"
	touch $@

# The browser test (tests/e2e/test_new_user.py) drives Debian's chromium; Playwright never
# downloads a browser of its own. CI runs as root with Debian's package registry reachable.
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@echo "==> Installing Debian's chromium for the browser test (apt-get, about 1 to 2 minutes)"
	@test "$$(id -u)" = 0 || { echo "chromium is missing and installing it needs root:" \
		"run 'sudo apt-get install -y chromium' (Debian), then make again" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
	@echo "==> $$($(CHROMIUM) --version 2>/dev/null) is installed"

$(SAM_VENV)/.installed: requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

include mk/sam.mk

# The dashboard's chart library (Chart.js), from the npm registry as package-lock.json pins it;
# the dashboard function serves it from node_modules/ until `sam build` packages it.
DASHBOARD_CHART := functions/dashboard/node_modules/chart.js/dist/chart.umd.js
$(DASHBOARD_CHART): functions/dashboard/package.json functions/dashboard/package-lock.json
	@echo "==> Installing the dashboard's chart library (npm ci, a few seconds)"
	$(MAKE) --no-print-directory -C functions/dashboard node_modules/chart.js/dist/chart.umd.js

## dev: start moto + the API gateway + demo tenant locally; Ctrl-C stops it
## (DEVSTACK_ARGS="--free-ports" lets the system pick every port)
dev: $(VENV)/.installed $(DASHBOARD_CHART)
	$(BIN)/python -m devstack $(DEVSTACK_ARGS)

## test: lint, types, unit + integration + e2e tests, template checks and a Docker-free sam build
## (unit runs alone: its quick bench times cold starts; integration then has both cores for its
## workers, so its time is its own; e2e, which mostly waits on its devstack, runs beside the
## template checks and the build, each one's output in one piece)
TEST_JOBS ?= 3
INTEGRATION_WORKERS ?= 2
test: lint typecheck unit
	$(MAKE) --no-print-directory integration
	$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target e2e validate build

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed
	$(BIN)/mypy layers/shared/payments

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit

integration: $(VENV)/.installed $(DASHBOARD_CHART)
	$(BIN)/pytest -n $(INTEGRATION_WORKERS) tests/integration

e2e: $(VENV)/.installed $(CHROMIUM) $(DASHBOARD_CHART)
	CHROMIUM=$(CHROMIUM) $(BIN)/pytest tests/e2e

## validate: sam validate --lint, cfn-lint and checkov on template.yaml
validate: sam-validate cfn-lint checkov

# Offline and the same on every run: no API key (so no platform calls), no download of policy
# metadata, no version check, only the CloudFormation checks (SAM included). Any failed check
# fails the build: each finding is fixed in template.yaml or skipped there with a reason
# (`Metadata: checkov: skip: - id: ... comment: ...`).
CHECKOV_ENV := BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true
checkov: $(CHECKOV_VENV)/.installed
	env -u BC_API_KEY -u PRISMA_API_URL $(CHECKOV_ENV) $(CHECKOV_VENV)/bin/checkov \
		--file template.yaml --framework cloudformation --skip-download --quiet --compact

## openapi: regenerate docs/openapi.json from the handlers (a unit test fails when it drifts)
openapi: $(VENV)/.installed
	$(BIN)/python scripts/openapi.py

## bench: cold starts, warm handler overhead, package sizes and devstack throughput (8 to 15
## minutes); writes bench/results/latest.json and latest.md (BENCH_QUICK=1: a quick check)
bench: $(VENV)/.installed
	$(BIN)/python -m bench

build: sam-build

deploy-dev: build
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam deploy --config-env default

deploy-prod: build
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam deploy --config-env prod

clean:
	rm -rf .aws-sam .devstack .mypy_cache .ruff_cache
