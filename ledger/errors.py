"""Every error ledger raises on purpose subclasses LedgerError.

The CLI maps each to one red line and the exit code carried by the class:
2 = bad input / refused, 1 = a check ran and failed.
"""


class LedgerError(Exception):
    exit_code = 2

    def __init__(self, message: str):
        # One line, always: the CLI prints exactly this.
        super().__init__(" ".join(str(message).split()))


class UsageError(LedgerError):
    """Bad argument or malformed input file."""


class NotFound(LedgerError):
    """Unknown run, promoted id, tag or baseline."""


class Refused(LedgerError):
    """A precondition for a write does not hold; nothing was written."""


class NotComparable(LedgerError):
    """Two runs whose dataset/evaluator fingerprints differ must not be ranked."""


class CheckFailed(LedgerError):
    """A check ran and its result is negative (verify, gate)."""

    exit_code = 1


class InjectedFault(LedgerError):
    """Raised by faults.checkpoint() when a test asks for a failure at a step."""
