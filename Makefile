# Two entry points for a fresh machine with Python 3.11+:
#   make demo   install, then run the main job on the bundled example
#   make test   install with test dependencies, then run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench lint clean

demo: $(VENV)/.installed
	$(BIN)/punchcard demo

test: $(VENV)/.installed-test
	scripts/ensure-postgres
	scripts/ensure-chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py

# mypy names modules by folder, not by pyproject's package-dir, so it checks a tree of links laid
# out as the installed package: build/typecheck/punchcard/{engine,dsl,plugins,...} (see [tool.mypy]).
TYPECHECK := build/typecheck/punchcard

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)
	ln -s $(CURDIR)/punchcard/* $(TYPECHECK)/
	for dir in dsl engine plugins grammar rulesets; do ln -s $(CURDIR)/$$dir $(TYPECHECK)/$$dir; done
	$(BIN)/mypy

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
