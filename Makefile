# tasklane: the user's interface. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
# uv is the one tool needed up front; it is installed with pip when missing.
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: help uv sync run test lint format

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

uv:
	@command -v $(UV) >/dev/null 2>&1 || { echo "installing uv with pip"; $(PYTHON) -m pip install --user --quiet uv; }

sync: uv ## install every workspace member and the dev tools from uv.lock
	@$(UV) sync --locked --all-packages --quiet

run: sync ## run the whole stack locally (embedded Redis unless TASKLANE_REDIS_URL is set)
	@$(UV) run --no-sync python -m tasklane_devstack

test: sync ## run the whole test suite
	$(UV) run --no-sync pytest

lint: sync ## ruff and mypy
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .
	$(UV) run --no-sync mypy services tests

format: sync ## apply ruff's formatting and safe fixes
	$(UV) run --no-sync ruff format .
	$(UV) run --no-sync ruff check --fix .
