# Everything a new user needs: `make run` (demo crawl), `make test`, `make dev` (Dagster UI), `make bench`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
OUTPUT ?= data

.PHONY: install run test lint format dev bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/esf-pipeline demo --output $(OUTPUT)

# Lint and format checks first (seconds), then the suite; tests/test_layers.py checks the import layers.
test: $(STAMP) lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

dev: $(STAMP)
	mkdir -p .dagster_home
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(BIN)/esf-pipeline dev

# The bench extra (Scrapy, py-spy) only for the benchmark, so `make test` does not need Scrapy.
# nginx serves the "paged" site shape (apt-get install -y nginx-light; without it Python's server does).
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || echo "bench: nginx not found (apt-get install -y nginx-light); the paged shape falls back to Python's server"
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(OUTPUT) .pytest_cache
