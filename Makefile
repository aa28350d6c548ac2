# Two entry points on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test mutation clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Set-up + the main job end to end, in a scratch clone (this checkout is left untouched).
demo: install
	$(BIN)/python -m ledger.demo

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Mutation testing of a security module (not part of `make test`: it runs the tests once per
# mutant): MUTATE=sshsig (default) | verify | txn | promote. Mutates this checkout's files in
# place and restores them; run it on a clean tree. Surviving mutants are listed at the end.
MUTATE ?= sshsig
mutation: install
	$(BIN)/pip install --quiet cosmic-ray
	rm -f tests/mutation/$(MUTATE).sqlite
	$(BIN)/cosmic-ray init tests/mutation/$(MUTATE).toml tests/mutation/$(MUTATE).sqlite
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/cosmic-ray exec tests/mutation/$(MUTATE).toml tests/mutation/$(MUTATE).sqlite
	git checkout -- ledger/
	$(BIN)/cr-report tests/mutation/$(MUTATE).sqlite --show-output | grep -E -B2 -A14 "SURVIVED|^total|^complete|surviving" || true

clean:
	rm -rf $(VENV) .pytest_cache
