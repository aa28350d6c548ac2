"""Git beyond this checkout: scratch worktrees (`ledger reproduce`) and remotes (`ledger
promote --push`, `ledger adopt`). Mixed into gitops.Git, which provides `run` and `run_full`."""

from __future__ import annotations

from pathlib import Path


class Remotes:
    # -- scratch worktrees (ledger reproduce) ----------------------------
    def worktree_add(self, path: str | Path, commit: str) -> None:
        """`git worktree add --detach` at `commit`; hooks off (a `dvc install` post-checkout hook
        would run DVC in the scratch tree)."""
        self.run("-c", "core.hooksPath=/dev/null", "worktree", "add", "--detach", "--quiet", str(path), commit)

    def worktree_remove(self, path: str | Path) -> None:
        """Removes a worktree even with changes in it, then prunes stale worktree records."""
        self.run("worktree", "remove", "--force", "--force", str(path), check=False)
        self.run("worktree", "prune", check=False)

    def worktrees(self) -> list[str]:
        out = self.run("worktree", "list", "--porcelain")
        return [line[len("worktree "):] for line in out.splitlines() if line.startswith("worktree ")]

    # -- remotes (ledger promote --push) ----------------------------------
    def remote_url(self, name: str) -> str | None:
        status, out, _ = self.run_full("remote", "get-url", name)
        return out.strip() if status == 0 and out.strip() else None

    def push_atomic(self, remote: str, refspecs: list[str]) -> tuple[bool, dict[str, str], str]:
        """`git push --atomic --porcelain`: all refs update on the remote or none does.
        Returns (ok, {destination ref: summary of each rejected/failed ref}, last stderr line)."""
        status, out, err = self.run_full("-c", "push.followTags=false", "push", "--atomic", "--porcelain",
                                         "--no-verify", remote, *refspecs)
        rejected = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[0] == "!":
                rejected[parts[1].rsplit(":", 1)[-1]] = parts[2].strip()
        last = (err or "").strip().splitlines()
        return status == 0 and not rejected, rejected, last[-1] if last else ""

    def remote_refs(self, remote: str, *patterns: str) -> dict[str, str] | None:
        """{ref: object id} on the remote matching `git ls-remote` patterns (annotated tags: the
        tag object, not the peeled commit), or None if the remote cannot be reached."""
        status, out, _ = self.run_full("ls-remote", "--refs", remote, *patterns)
        if status != 0:
            return None
        refs = {}
        for line in out.splitlines():
            oid, _, name = line.partition("\t")
            refs[name] = oid
        return refs
