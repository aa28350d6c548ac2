"""ledger: a Git-native artifact ledger for ML/LLM evaluation, built on DVC."""

import sys as _sys

__version__ = "0.1.0"

# DVC reads dvc.yaml, dvc.lock and params files with ruamel.yaml's "safe" loader, which takes the C
# parser of ruamel.yaml.clib (a ledger dependency, for the `dvc` commands users run) when it can
# import it. That parser recurses on the C stack: a file nested ~100,000 deep kills the process
# (SIGSEGV) where the pure-Python parser raises RecursionError. ledger's own processes read the
# user's files through DVC too, so in them ruamel stays pure: such a file is an error ledger
# reports, never a crash.
_sys.modules.setdefault("_ruamel_yaml", None)
