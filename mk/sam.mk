# SAM targets. Included by the root Makefile; also usable alone: `make -f mk/sam.mk sam-build`.
# Run from the repository root (template.yaml's folder).

SAM_VENV ?= .venv-sam
SAM := $(SAM_VENV)/bin/sam
CFN_LINT := $(SAM_VENV)/bin/cfn-lint
SAM_PYTHON := $(SAM_VENV)/bin/python
# e.g. `make sam-build SAM_BUILD_FLAGS="--cached --parallel"`
SAM_BUILD_FLAGS ?=

# Telemetry off: builds and CI must not phone home.
SAM_ENV := SAM_CLI_TELEMETRY=0

.PHONY: sam-validate cfn-lint sam-build

sam-validate: $(SAM_VENV)/.installed
	$(SAM_ENV) $(SAM) validate --lint

cfn-lint: $(SAM_VENV)/.installed
	$(CFN_LINT) template.yaml

# No --use-container: nothing here needs Docker or a local python3.13 (see layers/shared/Makefile).
# The Makefiles sam runs are not sub-makes of this one, so MAKEFLAGS (jobserver, command-line
# variables) is cleared for them; the layer gets the SAM venv's pip, by absolute path because
# sam runs make in a scratch copy of each CodeUri/ContentUri.
sam-build: $(SAM_VENV)/.installed
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(SAM_ENV) \
		PIP="$(abspath $(SAM_PYTHON)) -m pip" \
		$(SAM) build $(SAM_BUILD_FLAGS)
	$(SAM_PYTHON) scripts/check_build.py

# Alone (`make -f mk/sam.mk ...`) nothing creates the venv marker: the root Makefile owns that.
ifeq ($(words $(MAKEFILE_LIST)),1)
$(SAM_VENV)/.installed:
	@test -x $(SAM) || { echo "$(SAM) is missing: run make from the repository root" >&2; exit 1; }
endif
