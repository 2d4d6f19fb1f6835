# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test check bench eval clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ieum run

test: $(STAMP)
	$(VENV)/bin/ieum kb check
	$(VENV)/bin/python -m pytest

check: $(STAMP)
	$(VENV)/bin/ieum kb check
	$(VENV)/bin/mypy

eval: $(STAMP)
	$(VENV)/bin/python ../shared/eval/score.py ../shared/eval/dev.jsonl -- $(VENV)/bin/ieum ask --json

bench: $(STAMP)
	$(VENV)/bin/python bench/search.py

clean:
	rm -rf $(VENV) build *.egg-info
