# Medkarta: `make run` serves the portal with demo data; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= $(or $(PORTAL_HOST),127.0.0.1)
PORT ?= $(or $(PORTAL_PORT),5000)
WORKERS ?= 2
# pytest-xdist processes: one per core for the unit and HTTP tests, one per two cores for the browser
# tests (a browser test process keeps about 1.7 cores busy with its Chromium); at least two of each.
CORES := $(shell nproc 2>/dev/null || echo 2)
TEST_WORKERS ?= $(shell n=$(CORES); echo $$(( n > 2 ? n : 2 )))
E2E_WORKERS ?= $(shell n=$(CORES); echo $$(( n / 2 > 2 ? n / 2 : 2 )))
PLUGIN_CATALOGS := $(wildcard plugins/*/translations)
OIDC_PROVIDER := tests/oidc_provider/node_modules/.installed
# The example plugin, a distribution of its own (docs/writing_plugins.md), and where make test-example builds it
EXAMPLE := examples/medkarta-example
EXAMPLE_BUILD := build/example
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test test-unit test-e2e test-pg test-example install install-test deps deps-run deps-bench bench bench-slots bench-pdf translations compile-translations db lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

## System packages (fonts and Pango for the PDFs; Chromium and poppler for the tests), listed once in
## e2e/system-packages: installed when missing if we are root with apt-get, otherwise it stops
## and prints the one command that installs them.
deps:
	@e2e/system-packages test

deps-run:
	@e2e/system-packages run

deps-bench:
	@e2e/system-packages bench

install: $(VENV)/.installed compile-translations
install-test: $(VENV)/.installed-test compile-translations $(OIDC_PROVIDER)

## The OpenID Connect provider tests/test_oidc.py signs in against (panva/oidc-provider under Node,
## its exact versions in tests/oidc_provider/package-lock.json).
$(OIDC_PROVIDER): tests/oidc_provider/package.json tests/oidc_provider/package-lock.json
	npm ci --prefix tests/oidc_provider --no-audit --no-fund --loglevel=error
	touch $@

## The database: create or migrate instance/medkarta.db and bring the ICD-10 reference book up to
## date (a second or two the first time, nothing to do after), then load demo data when it is new.
db: install
	@new=0; [ -n "$$PORTAL_DATABASE_URL" ] || [ -f instance/medkarta.db ] || new=1; \
	$(BIN)/flask --app portal db upgrade && $(BIN)/flask --app portal import-mkb10 || exit 1; \
	if [ $$new = 1 ]; then $(BIN)/flask --app portal seed-demo; fi

## Demo mode (one-click demo sign-in, on-screen outbox) is on for `make run` unless
## PORTAL_DEMO_MODE says otherwise; production (PORTAL_ENV=production) refuses it.
## Outside production its settings come from config/demo.toml (two regions by host name: 127.0.0.1 is
## Moscow, localhost Tatarstan; docs/regions.md) unless PORTAL_CONFIG_FILE names another file.
## Beside gunicorn runs the background worker (`flask worker`: the PDFs, the audit sealer, the periodic jobs), stopped (SIGINT: it
## finishes the job in hand) when gunicorn stops, however it stops.
run: deps-run db
	@export PORTAL_CONFIG_FILE=$${PORTAL_CONFIG_FILE:-$$( [ "$$PORTAL_ENV" = production ] || echo config/demo.toml )}; \
	export PORTAL_DEMO_MODE=$${PORTAL_DEMO_MODE:-$$( [ "$$PORTAL_ENV" = production ] && echo false || echo true )}; \
	if [ "$$PORTAL_DEMO_MODE" = true ]; then $(BIN)/flask --app portal seed-clinic-day; fi; \
	$(BIN)/flask --app portal worker & worker=$$!; \
	trap 'kill -INT $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	$(BIN)/gunicorn -c python:portal.gunicorn_conf --bind $(HOST):$(PORT) --workers $(WORKERS) wsgi:app

## Every test: unit and HTTP tests (again on PostgreSQL when PORTAL_TEST_DATABASE_URL is set),
## then the browser tests in Chromium. Tests marked `timing` (a CPU or time budget) run alone after
## the parallel run of their suite. Fails if Chromium cannot be found. (The suites run one after
## the other: beside a database suite the browser tests' waits become flaky on two cores. The
## browser tests run in E2E_WORKERS processes (two on two cores), a test file each at a time: each
## file has its own portal.)
## Last, the example plugin's own tests (make test-example). The kit's browser checks never skip here.
test: export PORTAL_REQUIRE_BROWSER = 1
test: deps install-test
	$(BIN)/python e2e/find_chromium.py
	$(BIN)/pytest tests -q -p no:cacheprovider -n $(TEST_WORKERS) -m "not timing and not benchmark" --junitxml=reports/unit-sqlite.xml
	$(BIN)/pytest tests -q -p no:cacheprovider -m timing --junitxml=reports/unit-sqlite-timing.xml
	@if [ -n "$$PORTAL_TEST_DATABASE_URL" ]; then \
	  echo "== unit and HTTP tests on PostgreSQL"; \
	  PORTAL_TEST_DB=postgresql $(BIN)/pytest tests -q -p no:cacheprovider -n $(TEST_WORKERS) -m "not timing and not benchmark" --junitxml=reports/unit-postgresql.xml && \
	  PORTAL_TEST_DB=postgresql $(BIN)/pytest tests -q -p no:cacheprovider -m timing --junitxml=reports/unit-postgresql-timing.xml; \
	fi
	$(BIN)/pytest e2e -q -p no:cacheprovider -n $(E2E_WORKERS) --dist loadfile --junitxml=reports/e2e.xml
	$(MAKE) --no-print-directory test-example

## The example plugin as an integrator has it (docs/writing_plugins.md): built from (a copy of) its
## folder as a distribution of its own, installed with pip into a folder of its own (never into .venv), and its
## tests run against the installed copy, which the portal finds by its entry point, with
## portal.testing's fixtures from the portal's pytest11 entry point.
test-example: export PORTAL_REQUIRE_BROWSER = 1
test-example: install-test
	rm -rf $(EXAMPLE_BUILD) && mkdir -p $(EXAMPLE_BUILD)
	cp -r $(EXAMPLE) $(EXAMPLE_BUILD)/src  # the build writes beside its sources: a copy keeps the folder clean
	$(BIN)/pybabel -q compile -d $(EXAMPLE_BUILD)/src/medkarta_example/translations -D example
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir $(EXAMPLE_BUILD)/dist ./$(EXAMPLE_BUILD)/src
	$(BIN)/pip install --quiet --no-deps --target $(EXAMPLE_BUILD)/site $(EXAMPLE_BUILD)/dist/*.whl
	PYTHONPATH=$(CURDIR)/$(EXAMPLE_BUILD)/site $(BIN)/pytest $(EXAMPLE)/tests -q -p no:cacheprovider \
	  --junitxml=reports/example-plugin.xml

## The benchmark (docs/performance.md): the portal as `make run` serves it, on a generated data set
## (SQLite in bench/data/, or PORTAL_BENCH_DATABASE_URL), against a reference Flask page, with wrk.
## Options: make bench BENCH_ARGS="--patients 5000 --duration 5 --rounds 3 --pages dashboard,results"
bench: deps-bench install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## The PDF summary's CPU budget (docs/performance.md): a summary of five pages or more made in at most
## 400 ms of CPU, best of three, in this process. A benchmark: run it on a quiet machine.
bench-pdf: deps install-test
	$(BIN)/pytest tests -q -s -p no:cacheprovider -m benchmark

## The free-slot search's budget (docs/appointments.md): the booking steps and the directory's doctor
## search in-process on a region of 40 organisations, 300 practitioners and four weeks of slots
## (SQLite in bench/data/, or PORTAL_BENCH_DATABASE_URL); no wrk needed.
## Options: make bench-slots BENCH_ARGS="-n 500 --specialties 72,62 --practitioners 600"
bench-slots: install
	$(BIN)/python -m bench.slots $(BENCH_ARGS)

translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching
	@for dir in $(PLUGIN_CATALOGS); do \
	  plugin=$$(basename $$(dirname $$dir)); \
	  $(BIN)/pybabel extract -F plugins/$$plugin/babel.cfg --no-location --sort-output -o $$dir/$$plugin.pot plugins/$$plugin; \
	  $(BIN)/pybabel update -i $$dir/$$plugin.pot -d $$dir -D $$plugin --no-fuzzy-matching; \
	done
	$(MAKE) compile-translations

compile-translations: $(VENV)/.installed
	@$(BIN)/pybabel compile -d translations --statistics 2>&1 | grep -v '^$$' || true
	@for dir in $(PLUGIN_CATALOGS); do \
	  plugin=$$(basename $$(dirname $$dir)); \
	  $(BIN)/pybabel compile -d $$dir -D $$plugin >/dev/null; \
	done

lint: install-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) reports .pytest_cache tests/oidc_provider/node_modules
