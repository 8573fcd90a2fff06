# skinseg developer tasks. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install test test-slow test-all lint format demo models zoo clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install skinseg (editable) with the dev extra

test: $(STAMP) ## Run the fast test suite
	$(PY) -m pytest

test-slow: $(STAMP) ## Run only the slow tests (launchers, Optuna, DDP, ../shared/data)
	$(PY) -m pytest -m slow

test-all: $(STAMP) ## Run every test, slow ones included
	$(PY) -m pytest -m "slow or not slow"

lint: $(STAMP) ## Check code with ruff (lint and format)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP) ## Format and auto-fix code with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

demo: $(STAMP) ## Train the 3 models x 3 losses grid on synthetic data and print the comparison
	$(PY) train.py -m experiment=demo

models: $(STAMP) ## Print the model table and refresh it in README.md
	$(VENV)/bin/skinseg models --update-readme README.md

ISIC ?= ../shared/data/ISIC2017
PH2 ?= ../shared/data/PH2Dataset
zoo: $(STAMP) ## Retrain the shipped isic2017 model on $(ISIC), score it on $(PH2), write skinseg/zoo/
	$(PY) -m benchmarks.zoo isic2017 --data-root $(ISIC) --ph2-root $(PH2) $(if $(CV),--cv $(CV))

clean: ## Remove caches (keeps .venv and logs/)
	rm -rf .pytest_cache .ruff_cache build *.egg-info
