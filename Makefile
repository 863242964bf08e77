# One command per habit: make run, make test, make lint, make run-stack, make bench.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

MARIADB_URL ?= mysql://root@127.0.0.1:3306
RABBITMQ_URL ?= amqp://guest:guest@127.0.0.1:5672//
REDIS_URL ?= redis://127.0.0.1:6379/0

# The stack's defaults (make run-stack): every app database on the local MariaDB, throttle counters in the local Redis.
STACK_ENV = DATABASE_URL=$${DATABASE_URL:-$(MARIADB_URL)/sagas_default} \
	ORDERS_DATABASE_URL=$${ORDERS_DATABASE_URL:-$(MARIADB_URL)/sagas_orders} \
	INVENTORY_DATABASE_URL=$${INVENTORY_DATABASE_URL:-$(MARIADB_URL)/sagas_inventory} \
	PAYMENTS_DATABASE_URL=$${PAYMENTS_DATABASE_URL:-$(MARIADB_URL)/sagas_payments} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(RABBITMQ_URL)} \
	REDIS_URL=$${REDIS_URL:-$(REDIS_URL)}

.PHONY: run run-stack admin-password stack-token test test-sqlite test-mariadb test-tools test-cluster cluster cluster-down lint format bench bench-instructions services system-deps venv clean

venv: $(STAMP)

# Quiet, so that what make run prints at the end (the admin password, the address) is not lost in pip's output.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check --root-user-action=ignore

$(STAMP): requirements/base.txt requirements/dev.txt
	@$(MAKE) --no-print-directory system-deps
	@echo "installing the pinned requirements into $(VENV) (requirements/dev.txt)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP_INSTALL) --upgrade pip
	@$(PIP_INSTALL) -r requirements/dev.txt
	@touch $(STAMP)

# mysqlclient compiles against the MariaDB client library; install it when missing and we may.
system-deps:
	@if ! pkg-config --exists libmariadb mysqlclient 2>/dev/null && ! pkg-config --exists libmariadb 2>/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing libmariadb-dev and pkg-config"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmariadb-dev pkg-config >/dev/null; \
		else \
			echo "mysqlclient needs libmariadb-dev and pkg-config: sudo apt-get install libmariadb-dev pkg-config" >&2; exit 1; \
		fi; \
	fi

# Tools the server tests drive: Debian's prometheus (promtool checks, a real scrape).
test-tools:
	@if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing prometheus"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; \
		else \
			echo "the observability tests need Debian's prometheus package: sudo apt-get install prometheus" >&2; exit 1; \
		fi; \
	fi
	@if ! command -v chromium >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing chromium"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
		else \
			echo "the browser tests need Debian's chromium package: sudo apt-get install chromium" >&2; exit 1; \
		fi; \
	fi

# MariaDB, RabbitMQ and Redis for the stack and the server tests: start them if they are down and we may.
services:
	@bash deploy/scripts/ensure-services.sh

# ADDRPORT (default 127.0.0.1:8000) is where it serves; a taken port stops it at once, before any set-up.
# The demo catalog needs the tables first, so migrate here and let run_embedded skip it.
run: venv
	@$(BIN)/python manage.py run_embedded --check-port $${ADDRPORT:-127.0.0.1:8000}
	@$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@$(BIN)/python manage.py migrate_all --verbosity 0
	@$(BIN)/python manage.py load_demo_catalog
	@$(BIN)/python manage.py run_embedded --no-migrate $${ADDRPORT:-127.0.0.1:8000}

# A new generated password for make run's admin, printed (development settings only; production refuses).
admin-password: venv
	@$(BIN)/python manage.py migrate_all --verbosity 0
	@$(BIN)/python manage.py ensure_admin --reset

# The seed operator's bearer token on the stack's databases, alone on stdout: TOKEN=$$(make -s stack-token)
stack-token: venv
	@$(STACK_ENV) $(BIN)/python manage.py create_customer seed-ops --seed-operator

run-stack: venv services
	$(STACK_ENV) $(BIN)/python manage.py migrate_all
	$(STACK_ENV) $(BIN)/python manage.py ensure_admin
	$(STACK_ENV) $(BIN)/python manage.py load_demo_catalog
	$(STACK_ENV) $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(STACK_ENV) PORT=$${PORT:-8000} PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho start -f Procfile

test: test-sqlite test-mariadb

# Pass 1: everything that needs no server, on SQLite (the embedded default).
test-sqlite: venv
	@echo "== tests on SQLite (embedded default) =="
	$(BIN)/pytest -m "not mariadb and not rabbitmq and not redis and not e2e and not browser and not cluster" $(PYTEST_ARGS)

# Pass 2: the whole suite but the embedded mode on MariaDB + RabbitMQ + Redis, in fresh databases and vhosts.
test-mariadb: venv services test-tools
	@echo "== tests on MariaDB + RabbitMQ (fresh databases, fresh vhost) =="
	TEST_DB=mariadb TEST_RUN_ID=t$$(date +%s)$$$$ $(BIN)/pytest -m "not embedded and not cluster" $(PYTEST_ARGS)

# A loopback cluster: 3 RabbitMQ nodes, 3 MariaDB Galera nodes, HAProxy in front (deploy/cluster/).
cluster:
	bash deploy/cluster/cluster.sh up

cluster-down:
	bash deploy/cluster/cluster.sh down

# The fault runs on the cluster (docs/reliability.md): each needs `make cluster` first; it fails, never skips.
test-cluster: venv services
	@echo "== fault runs on the RabbitMQ + Galera cluster =="
	TEST_DB=mariadb TEST_RUN_ID=c$$(date +%s)$$$$ $(BIN)/pytest -m cluster tests/cluster $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The benchmark: intake vs a raw-SQL baseline, end to end, relay, hot SKU (docs/benchmarks.md).
bench: venv services
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || { echo "make bench needs wrk: sudo apt-get install wrk" >&2; exit 1; }
	$(BIN)/python tests/bench/run.py $(BENCH_ARGS)

# Instructions per POST /orders, ours against the baseline, under callgrind: the noise-free web figure.
bench-instructions: venv services
	@command -v valgrind >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; } || { echo "make bench-instructions needs valgrind: sudo apt-get install valgrind" >&2; exit 1; }
	$(BIN)/python tests/bench/instructions.py $(BENCH_ARGS)

clean:
	rm -rf var/*.sqlite3* var/static
