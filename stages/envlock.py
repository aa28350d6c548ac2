"""DVC stage (always_changed): writes the environment lockfile that run stages depend on.
Its md5 only changes when the installed packages do, so runs rerun only then."""

import sys

from ledger.run import envlock
from ledger.layout import ENV_LOCK

if __name__ == "__main__":
    lock = envlock.write(sys.argv[1] if len(sys.argv) > 1 else ENV_LOCK)
    print(f"env lock: {len(lock['packages'])} packages, sha256 {lock['lock_sha256'][:12]}")
