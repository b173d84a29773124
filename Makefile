# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# uv on PATH, else the pip-installed module (installed by the `uv` target when missing).
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
CHROMIUM := /usr/bin/chromium
PY_PATHS := airflow_provider_tiktok dev dags plugins tests bench compat

.PHONY: help uv env browser stack-deps lint typecheck pytest test test-stack demo bench airflow emulator compat clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

env: uv ## Create/refresh the virtualenv from uv.lock (Python packages only)
	@# Reinstalling the (editable) project itself keeps its entry points in step with pyproject.toml: a
	@# stale pytest11 entry point would load the emulator fixtures twice and stop pytest.
	@# Bytecode is compiled as pip does in the image: without it every task process, CLI call and test
	@# subprocess recompiles Airflow (about 5 CPU-seconds each), and this machine sets
	@# PYTHONDONTWRITEBYTECODE=1, so nothing would ever cache it.
	$(UV) sync --frozen --compile-bytecode --reinstall-package airflow-provider-tiktok

browser: ## Install Debian's Chromium (and an emoji font for screenshots) for the browser tests (needs root or sudo)
	@if [ ! -x $(CHROMIUM) ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; \
	fi
	@$(CHROMIUM) --version

stack-deps: ## Install Debian's PostgreSQL and Redis for the stack tests (needs root or sudo)
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v redis-server >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql redis-server >/dev/null; \
	fi
	@ls /usr/lib/postgresql/*/bin/initdb && redis-server --version

lint: env ## ruff lint + format check
	$(UV) run --frozen ruff check $(PY_PATHS)
	$(UV) run --frozen ruff format --check $(PY_PATHS)

typecheck: env ## mypy
	$(UV) run --frozen mypy

pytest: env browser ## pytest only (the stack tests have their own target)
	$(UV) run --frozen pytest --ignore=tests/stack $(PYTEST_ARGS)

test: lint typecheck pytest ## Lint, type check and run every test but the stack tests

test-stack: env browser stack-deps ## The compose deployment natively: PostgreSQL, Redis, CeleryExecutor (2 workers), FAB
	$(UV) run --frozen pytest tests/stack -rA $(PYTEST_ARGS)

demo: env ## The daily report on embedded defaults: emulator + moto_server, 3 linked accounts, yesterday's CSVs (KEEP=1 keeps them)
	$(UV) run --frozen python -m dev.demo $(if $(KEEP),--keep)

bench: env ## Benchmarks (figures and ratios; no pass/fail timing)
	@for script in bench/bench_*.py; do \
	  echo "=== $$script"; $(UV) run --frozen python $$script; \
	done

airflow: env ## Local Airflow on https://localhost:8443 (loopback only) with the emulator, moto_server and the accounts page
	$(UV) run --frozen python -m dev.local_airflow $(AIRFLOW_ARGS)

compat: uv ## Compatibility matrix: pinned install, provider, plugin and DAG run per (Airflow, Python) pair
	python3 compat/matrix.py $(COMPAT_ARGS)

emulator: env ## Run the TikTok emulator alone on 127.0.0.1:8900
	$(UV) run --frozen tiktok-emulator --port 8900

clean: ## Remove the virtualenv and caches
	rm -rf .venv .mypy_cache .ruff_cache
