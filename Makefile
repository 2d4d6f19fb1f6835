# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test check bench eval clean

# Set-up is quiet (a user should see the bot, not the build): pip's output goes to .venv/install.log,
# shown only when the install fails.
$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@echo "설치 중… (처음 한 번, 기록: $(VENV)/install.log)" >&2
	@( $(VENV)/bin/pip install --quiet --upgrade pip && $(VENV)/bin/pip install --quiet -e '.[test]' ) \
		> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log >&2; exit 1; }
	@touch $(STAMP)

run: $(STAMP)
	@$(VENV)/bin/ieum run

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
