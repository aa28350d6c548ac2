# Two entry points on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install browser demo test mutation mutation-map clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# A real headless browser for the report tests: Debian's chromium package (as root, or via sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1 \
	  || { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null; }

# Set-up + the main job end to end, in a scratch clone (this checkout is left untouched).
demo: install
	$(BIN)/python -m ledger.demo

# One worker per core (TEST_WORKERS=1 for a serial run); a test file stays on one worker, so a
# file's module fixtures and its servers (S3 on fixed port sets) are never raced.
TEST_WORKERS ?= auto
test: install browser
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Mutation testing of the security modules (not part of `make test`: it runs tests once per
# mutant). `make mutation-map` runs the whole suite once under coverage, recording which test
# executes which line (subprocesses included); `make mutation MUTATE=sshsig|verify|cache|txn|promote|
# promoted|prcheck|pathcommit|rawtree` then gives each mutant exactly the tests that execute its statement
# (tests/mutation/pick_tests.py), in WORKERS copies of this checkout in parallel. Run it on a clean,
# committed tree: the copies are of HEAD, and the map holds while ledger/ is unchanged. Surviving
# mutants are listed at the end; RECHECK=1 tests them again against the suite's whole files.
MUTATE  ?= sshsig
WORKERS ?= 2
MAPDIR  := $(CURDIR)/tests/mutation/map
mutation-map: install
	$(BIN)/pip install --quiet cosmic-ray coverage pytest-timeout
	rm -rf $(MAPDIR) && mkdir -p $(MAPDIR)
	$(BIN)/python -m pytest --collect-only -q -p no:cacheprovider | grep '::' > $(MAPDIR)/collected.txt
	MUTATION_MAP_DIR=$(MAPDIR) COVERAGE_PROCESS_START=$(CURDIR)/tests/mutation/coverage.rc \
	  $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)
	MUTATION_MAP_DIR=$(MAPDIR) $(BIN)/coverage combine -q --rcfile=tests/mutation/coverage.rc
	git rev-parse HEAD > $(MAPDIR)/commit

mutation: install
	@test -f $(MAPDIR)/commit && git diff --quiet "$$(cat $(MAPDIR)/commit)" HEAD -- ledger/ \
	  && git diff --quiet HEAD -- ledger/ \
	  || { echo "mutation: ledger/ changed since the map: commit, then 'make mutation-map'"; exit 2; }
	$(BIN)/python tests/mutation/run.py $(MUTATE) $(WORKERS) $(if $(RECHECK),--recheck)

clean:
	rm -rf $(VENV) .pytest_cache
