# The two commands the README promises: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,postgres,redis,demo]"
	touch $@

## demo: create .venv, migrate, seed demo data, print a login, run web server + django-q2 cluster
demo: $(BIN)/.installed
	$(BIN)/python demo_project/run.py

## test: create .venv and run the whole suite (SQLite; PostgreSQL when DATABASE_URL is set)
test: $(BIN)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check leadfollow tests demo_project bench
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python -m django makemigrations --check --dry-run

clean:
	rm -rf $(VENV) build dist *.egg-info demo_project/db.sqlite3*
