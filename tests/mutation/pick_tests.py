"""Test command for one mutant (make mutation): run the tests that execute the mutated statement.

cosmic-ray has mutated MODULE in place in the current directory. This finds the changed lines
(`git diff`), widens each to its innermost enclosing statement in the original source, and asks
the coverage map (make mutation-map: the whole suite, subprocesses included, one context per
test) which tests ran any line of those statements. Of those, it runs the ones in the module's
SUITE files (its toml's `suite`) with `-x`; when none of the SUITE executes the statement, the
rest of the suite's tests that do. A mutant no test executes survives without running
anything. A line the map cannot attribute (run at import, or inside a hypothesis @given test)
is tested by the whole SUITE files.

Exit status: pytest's, so non-zero means killed. A failure of this script itself (no diff, a
selected test id pytest does not know) exits 0 with a message: an infrastructure problem must
show as a survivor to look at, never as a kill.

usage: LEDGER_MUTATION_MAP=DIR python tests/mutation/pick_tests.py MODULE SUITE...
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from coverage import CoverageData

HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", re.M)
PHASE = re.compile(r" \((setup|call|teardown)\)$")


def changed_lines(module: str) -> set[int]:
    diff = subprocess.run(["git", "diff", "-U0", "--", module], capture_output=True, text=True,
                          check=True).stdout
    lines: set[int] = set()
    for start, count in HUNK.findall(diff):
        first, n = int(start), int(count or 1)
        lines.update(range(first, first + max(n, 1)))
    return lines


def statement_lines(source: str, lines: set[int]) -> set[int]:
    """Every line of the innermost statement that holds each changed line."""
    spans = [(node.lineno, node.end_lineno) for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.stmt)]
    wanted: set[int] = set()
    for line in lines:
        holding = [s for s in spans if s[0] <= line <= s[1]]
        if not holding:
            wanted.add(line)
            continue
        first, last = min(holding, key=lambda s: s[1] - s[0])
        wanted.update(range(first, last + 1))
    return wanted


def node_ids(contexts: set[str], collected: list[str]) -> tuple[list[str], bool]:
    """Test ids for coverage contexts; the flag says some line was run outside any test."""
    ids: set[str] = set()
    anonymous = False
    for context in contexts:
        if not context or context.startswith("hypothesis."):
            # run outside any test, or inside hypothesis's own `test_function` (a @given test):
            # the map cannot tell which test
            anonymous = True
        elif "::" in context:  # a subprocess: PYTEST_CURRENT_TEST
            ids.add(PHASE.sub("", context))
        else:  # in-process: module.function (every parametrization of it)
            module, _, func = context.partition(".")
            prefix = f"tests/{module}.py::{func.replace('.', '::')}"
            ids.update(i for i in collected if i == prefix or i.startswith(prefix + "["))
    known = set(collected)
    return sorted(i for i in ids if i in known), anonymous


def main(module: str, mapdir: str, suite: list[str]) -> int:
    lines = changed_lines(module)
    if not lines:
        print(f"pick_tests: no change in {module}: not a mutant run", file=sys.stderr)
        return 0
    original = subprocess.run(["git", "show", f"HEAD:{module}"], capture_output=True, text=True,
                              check=True).stdout
    wanted = statement_lines(original, lines)
    data = CoverageData(basename=str(Path(mapdir) / "coverage"))
    data.read()
    contexts: set[str] = set()
    # every copy of the module the suite ran (this checkout's, and copies tests make of ledger,
    # e.g. a bytecode-only one): the same source, the same line numbers
    for measured in (f for f in data.measured_files() if f.endswith("/" + module)):
        for line, names in (data.contexts_by_lineno(measured) or {}).items():
            if line in wanted:
                contexts.update(names)
    collected = Path(mapdir, "collected.txt").read_text().splitlines()  # ids may hold spaces
    tests, anonymous = node_ids(contexts, collected)
    own = [t for t in tests if t.split("::")[0] in suite]
    others = [t for t in tests if t.split("::")[0] not in suite]
    if anonymous:  # the module's own test files, which hold its property tests
        own = suite
    recheck = os.environ.get("LEDGER_MUTATION_RECHECK") == "1"  # a survivor, against tests the map predates
    if not own and not others and not recheck:
        print(f"pick_tests: no test executes lines {sorted(wanted)} of {module}", file=sys.stderr)
        return 0
    # The module's own tests that execute the statement decide; only a statement none of them
    # executes is tested by the rest of the suite's.
    chosen = own or others
    if recheck:  # a statement the map saw no test run may be run by a test written since
        chosen = suite + others
        if os.environ.get("LEDGER_MUTATION_TESTS"):  # or only the tests named (one id per line)
            chosen = os.environ["LEDGER_MUTATION_TESTS"].split("\n")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}  # subprocesses import this copy's ledger
    hang = os.environ.get("LEDGER_MUTATION_TEST_TIMEOUT", "120")  # a mutant's endless loop fails its test
    proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                           "-p", "no:randomly", f"--timeout={hang}", *chosen], env=env)
    if proc.returncode in (4, 5):
        print(f"pick_tests: pytest could not run the selected tests (exit {proc.returncode})",
              file=sys.stderr)
        return 0
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], os.environ["LEDGER_MUTATION_MAP"], sys.argv[2:]))
